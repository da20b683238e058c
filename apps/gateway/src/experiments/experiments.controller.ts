import { Controller, Delete, Get, HttpCode, Param, Query, Res } from '@nestjs/common';
import { ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Audited } from '../audit/audited.decorator';
import { CurrentTenant, RequiresScope, type TenantContext } from '../auth/auth.decorators';
import { ProblemDto } from '../common/dto/problem.dto';
import { IdPipe } from '../common/id.pipe';
import { sendFile } from '../common/send-file';
import { CompareDto, CompareQueryDto, ExperimentDto, ExperimentListDto, ExperimentListQueryDto } from './dto/experiment.dto';
import { ExperimentsService } from './experiments.service';

@ApiTags('experiments')
@Controller('experiments')
export class ExperimentsController {
  constructor(private readonly experiments: ExperimentsService) {}

  @Get()
  @RequiresScope('read')
  @ApiOperation({ summary: 'List experiments, newest first or sorted by a final metric' })
  @ApiOkResponse({ type: ExperimentListDto })
  list(@CurrentTenant() tenant: TenantContext, @Query() query: ExperimentListQueryDto): Promise<ExperimentListDto> {
    return this.experiments.list(tenant.tenantId, query);
  }

  @Get(':experiment_id')
  @RequiresScope('read')
  @ApiOperation({ summary: 'Get an experiment: hyperparameters, per-epoch history, final, best and test metrics, artifacts' })
  @ApiOkResponse({ type: ExperimentDto })
  @ApiNotFoundResponse({ type: ProblemDto })
  get(@CurrentTenant() tenant: TenantContext, @Param('experiment_id', new IdPipe('experiment')) id: string): Promise<ExperimentDto> {
    return this.experiments.get(tenant.tenantId, id);
  }

  @Delete(':experiment_id')
  @RequiresScope('write')
  @Audited('experiment.deleted', 'experiment', 'experiment_id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete an experiment and its artifacts (a running one is cancelled first)' })
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ProblemDto })
  delete(@CurrentTenant() tenant: TenantContext, @Param('experiment_id', new IdPipe('experiment')) id: string): Promise<void> {
    return this.experiments.delete(tenant.tenantId, id);
  }

  @Get(':experiment_id/artifacts/:artifact_name')
  @RequiresScope('read')
  @ApiOperation({ summary: 'Download an artifact: model.json, weights.bin, model.onnx, model_tensorflow.py, model_pytorch.py, weights.pt, metrics.csv, training.log' })
  @ApiProduces('application/octet-stream', 'application/json', 'text/csv', 'text/plain', 'text/x-python')
  @ApiOkResponse({ description: 'The file, with a Content-Disposition filename' })
  @ApiNotFoundResponse({ type: ProblemDto })
  async artifact(
    @CurrentTenant() tenant: TenantContext,
    @Param('experiment_id', new IdPipe('experiment')) id: string,
    @Param('artifact_name') name: string,
    @Res() res: Response,
  ): Promise<void> {
    sendFile(res, await this.experiments.artifact(tenant.tenantId, id, name));
  }

  @Get(':experiment_id/compare')
  @RequiresScope('read')
  @ApiOperation({ summary: 'Compare experiments: hyperparameter differences, final metrics, histories, and the best per metric', description: 'compare_with=<id> (repeatable) or ids=<id>,<id>; an unknown id is a 404.' })
  @ApiOkResponse({ type: CompareDto })
  @ApiNotFoundResponse({ type: ProblemDto })
  compare(@CurrentTenant() tenant: TenantContext, @Param('experiment_id', new IdPipe('experiment')) id: string, @Query() query: CompareQueryDto): Promise<CompareDto> {
    return this.experiments.compare(tenant.tenantId, id, query);
  }
}
