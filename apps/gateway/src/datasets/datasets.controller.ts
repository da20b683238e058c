import { Controller, Delete, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { ApiBody, ApiConflictResponse, ApiConsumes, ApiCreatedResponse, ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiPayloadTooLargeResponse, ApiTags, ApiUnprocessableEntityResponse, ApiUnsupportedMediaTypeResponse } from '@nestjs/swagger';
import type { Request } from 'express';
import { Audited } from '../audit/audited.decorator';
import { CurrentTenant, RequiresScope, type TenantContext } from '../auth/auth.decorators';
import { ProblemDto } from '../common/dto/problem.dto';
import { IdPipe } from '../common/id.pipe';
import { DatasetsService } from './datasets.service';
import { DatasetDto, DatasetListDto, DatasetListQueryDto, DatasetUploadDto } from './dto/dataset.dto';

@ApiTags('datasets')
@Controller('datasets')
export class DatasetsController {
  constructor(private readonly datasets: DatasetsService) {}

  @Post()
  @RequiresScope('write')
  @HttpCode(201)
  @ApiOperation({ summary: 'Upload a dataset (CSV with a label column, or JSON {x, y})', description: 'multipart/form-data; the answer’s dataset_id (or the name) is usable as `dataset` in POST /jobs/train.' })
  @ApiConsumes('multipart/form-data')
  @ApiBody({ type: DatasetUploadDto })
  @ApiCreatedResponse({ type: DatasetDto })
  @ApiUnprocessableEntityResponse({ type: ProblemDto, description: 'A form field is missing or the file cannot be parsed (line/column or sample index in errors)' })
  @ApiConflictResponse({ type: ProblemDto, description: 'The tenant already has a dataset of that name' })
  @ApiPayloadTooLargeResponse({ type: ProblemDto, description: 'The file exceeds DATASET_MAX_UPLOAD_BYTES' })
  @ApiUnsupportedMediaTypeResponse({ type: ProblemDto, description: 'Not multipart/form-data' })
  upload(@CurrentTenant() tenant: TenantContext, @Req() req: Request): Promise<DatasetDto> {
    return this.datasets.upload(tenant.tenantId, req);
  }

  @Get()
  @RequiresScope('read')
  @ApiOperation({ summary: 'List the built-in datasets and the tenant’s uploads, with shapes and sizes' })
  @ApiOkResponse({ type: DatasetListDto })
  list(@CurrentTenant() tenant: TenantContext, @Query() query: DatasetListQueryDto): Promise<DatasetListDto> {
    return this.datasets.list(tenant.tenantId, query);
  }

  @Get(':dataset_id')
  @RequiresScope('read')
  @ApiOperation({ summary: 'Get an uploaded dataset' })
  @ApiOkResponse({ type: DatasetDto })
  @ApiNotFoundResponse({ type: ProblemDto })
  get(@CurrentTenant() tenant: TenantContext, @Param('dataset_id', new IdPipe('dataset')) id: string): Promise<DatasetDto> {
    return this.datasets.get(tenant.tenantId, id);
  }

  @Delete(':dataset_id')
  @RequiresScope('write')
  @Audited('dataset.deleted', 'dataset', 'dataset_id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete an uploaded dataset and its files' })
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ProblemDto })
  delete(@CurrentTenant() tenant: TenantContext, @Param('dataset_id', new IdPipe('dataset')) id: string): Promise<void> {
    return this.datasets.delete(tenant.tenantId, id);
  }
}
