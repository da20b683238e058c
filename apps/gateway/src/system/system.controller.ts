import { Controller, Get } from '@nestjs/common';
import { LAYER_TYPES } from '@app/dsl';
import { version } from '../../../../package.json';

/** Public system routes: API information and liveness. */
@Controller()
export class SystemController {
  @Get()
  info() {
    return { name: 'Neural DSL Platform', version, dsl: { layer_types: LAYER_TYPES.length } };
  }

  @Get('health')
  health() {
    return { status: 'healthy', version, timestamp: new Date().toISOString(), services: { api: 'healthy' } };
  }
}
