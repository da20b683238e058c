import { Controller, Delete, Get, HttpCode, Param, Query, Res } from '@nestjs/common';
import { ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Audited } from '../audit/audited.decorator';
import { CurrentTenant, RequiresScope, type TenantContext } from '../auth/auth.decorators';
import { ProblemDto } from '../common/dto/problem.dto';
import { IdPipe } from '../common/id.pipe';
import { sendFile } from '../common/send-file';
import { ModelDownloadQueryDto, ModelDto, ModelListDto, ModelListQueryDto } from './dto/model.dto';
import { ModelsService } from './models.service';

@ApiTags('models')
@Controller('models')
export class ModelsController {
  constructor(private readonly models: ModelsService) {}

  @Get()
  @RequiresScope('read')
  @ApiOperation({ summary: 'List compiled models, newest first' })
  @ApiOkResponse({ type: ModelListDto })
  list(@CurrentTenant() tenant: TenantContext, @Query() query: ModelListQueryDto): Promise<ModelListDto> {
    return this.models.list(tenant.tenantId, query);
  }

  @Get(':model_id')
  @RequiresScope('read')
  @ApiOperation({ summary: 'Get a model: summary, source DSL, backend, size' })
  @ApiOkResponse({ type: ModelDto })
  @ApiNotFoundResponse({ type: ProblemDto })
  get(@CurrentTenant() tenant: TenantContext, @Param('model_id', new IdPipe('model')) id: string): Promise<ModelDto> {
    return this.models.get(tenant.tenantId, id);
  }

  @Get(':model_id/download')
  @RequiresScope('read')
  @ApiOperation({ summary: 'Download the model: the generated file, or (trained models) ONNX, tfjs, code or PyTorch weights', description: 'Pick a form with ?format=; `formats` of GET /models/{id} lists them.' })
  @ApiProduces('text/x-python', 'application/octet-stream', 'application/zip')
  @ApiOkResponse({ description: 'The file, with a Content-Disposition filename' })
  @ApiNotFoundResponse({ type: ProblemDto })
  async download(
    @CurrentTenant() tenant: TenantContext,
    @Param('model_id', new IdPipe('model')) id: string,
    @Query() query: ModelDownloadQueryDto,
    @Res() res: Response,
  ): Promise<void> {
    const { stream, file } = await this.models.download(tenant.tenantId, id, query.format);
    sendFile(res, { stream, ...file });
  }

  @Delete(':model_id')
  @RequiresScope('write')
  @Audited('model.deleted', 'model', 'model_id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a model and its stored file' })
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ProblemDto })
  delete(@CurrentTenant() tenant: TenantContext, @Param('model_id', new IdPipe('model')) id: string): Promise<void> {
    return this.models.delete(tenant.tenantId, id);
  }
}
