import { ApiProperty } from '@nestjs/swagger';
import type { HealthReport, HealthServices, ReadinessReport, ServiceState } from '../health.service';
import type { TrainingBackend } from '../training-backend';

const STATES = ['healthy', 'unhealthy', 'disabled'];

export class HealthServicesDto implements HealthServices {
  @ApiProperty({ enum: STATES, example: 'healthy' }) api!: ServiceState;
  @ApiProperty({ enum: STATES, example: 'healthy', description: 'SELECT 1 on the database' }) database!: ServiceState;
  @ApiProperty({ enum: STATES, example: 'disabled', description: 'PING; disabled in embedded mode' }) redis!: ServiceState;
  @ApiProperty({ enum: STATES, example: 'healthy', description: 'The job queue driver' }) queue!: ServiceState;
  @ApiProperty({ enum: STATES, example: 'healthy', description: 'A worker heartbeat seen recently (reported, not required)' }) worker!: ServiceState;
}

export class HealthReportDto implements HealthReport {
  @ApiProperty({ enum: ['healthy', 'unhealthy'], example: 'healthy' }) status!: 'healthy' | 'unhealthy';
  @ApiProperty({ example: '0.1.0' }) version!: string;
  @ApiProperty({ format: 'date-time', example: '2024-01-01T12:00:00.000Z' }) timestamp!: string;
  @ApiProperty({ enum: ['embedded', 'distributed'], example: 'embedded' }) mode!: 'embedded' | 'distributed';
  @ApiProperty({ enum: ['tensorflow', 'wasm', 'cpu'], example: 'wasm', description: 'The tfjs backend the workers’ training processes run on (before one has started: the best one installed)' })
  training_backend!: TrainingBackend;
  @ApiProperty({ nullable: true, type: String, example: '1.13.0', description: 'The PyTorch version a live worker trains backend pytorch jobs with; null when none can' })
  pytorch!: string | null;
  @ApiProperty({ type: HealthServicesDto }) services!: HealthServicesDto;
}

class ReadinessServicesDto {
  @ApiProperty({ enum: STATES, example: 'healthy' }) database!: ServiceState;
  @ApiProperty({ enum: STATES, example: 'healthy' }) queue!: ServiceState;
}

export class ReadinessReportDto implements ReadinessReport {
  @ApiProperty({ enum: ['ready', 'not_ready'], example: 'ready' }) status!: 'ready' | 'not_ready';
  @ApiProperty({ type: ReadinessServicesDto }) services!: ReadinessServicesDto;
}

export class LivenessReportDto {
  @ApiProperty({ enum: ['alive'], example: 'alive' }) status!: 'alive';
  @ApiProperty({ description: 'Seconds since the process started', example: 42 }) uptime_seconds!: number;
}

class ApiLinksDto {
  @ApiProperty({ example: '/docs' }) docs!: string;
  @ApiProperty({ example: '/redoc' }) redoc!: string;
  @ApiProperty({ example: '/openapi.json' }) openapi!: string;
  @ApiProperty({ example: '/health' }) health!: string;
}

export class ApiInfoDto {
  @ApiProperty({ example: 'Neural DSL Platform' }) name!: string;
  @ApiProperty({ example: '0.1.0' }) version!: string;
  @ApiProperty({ example: 'Compile, train, track and serve models written in the Neural DSL' }) description!: string;
  @ApiProperty({ enum: ['embedded', 'distributed'], example: 'embedded' }) mode!: 'embedded' | 'distributed';
  @ApiProperty({ type: ApiLinksDto }) links!: ApiLinksDto;
  @ApiProperty({ description: 'Layer types the DSL compiler knows', example: 80 }) dsl_layer_types!: number;
}
