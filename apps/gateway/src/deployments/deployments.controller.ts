import { Body, Controller, Delete, Get, Header, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiBody,
  ApiConflictResponse,
  ApiConsumes,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { receivedAtOf } from '../common/request-id.middleware';
import { Audited } from '../audit/audited.decorator';
import { CurrentTenant, RequiresScope, type TenantContext } from '../auth/auth.decorators';
import { ProblemDto } from '../common/dto/problem.dto';
import { ExpensiveRoute } from '../common/rate-limit.decorator';
import { IdPipe } from '../common/id.pipe';
import { Idempotent } from '../common/idempotency/idempotent.decorator';
import { sendFile } from '../common/send-file';
import { DeploymentsService } from './deployments.service';
import {
  CreateDeploymentDto,
  DeploymentDto,
  DeploymentListDto,
  DeploymentListQueryDto,
  PredictRequestDto,
  PredictResponseDto,
  ScaleDeploymentDto,
  ScaleQueryDto,
} from './dto/deployment.dto';
import { PredictBody, type PredictInput } from './predict-body.decorator';
import { ServingService } from './serving.service';

const id = () => new IdPipe('deployment');

@ApiTags('deployments')
@Controller('deployments')
export class DeploymentsController {
  constructor(
    private readonly deployments: DeploymentsService,
    private readonly serving: ServingService,
  ) {}

  @Post()
  @RequiresScope('write')
  @HttpCode(201)
  @ApiOperation({
    summary: 'Deploy a trained model behind a prediction endpoint',
    description: 'Answers at once with status `deploying`; the deploy job (job_id, GET /jobs/{id}) loads the model in ONNX Runtime and the status becomes `deployed`, or `failed` with a reason.',
  })
  @ApiCreatedResponse({ type: DeploymentDto })
  @ApiConflictResponse({ type: ProblemDto, description: 'The tenant already has a deployment of that name' })
  @ApiUnprocessableEntityResponse({ type: ProblemDto, description: 'No such model, or a model that was never trained' })
  @Idempotent()
  create(@CurrentTenant() tenant: TenantContext, @Body() body: CreateDeploymentDto): Promise<DeploymentDto> {
    return this.deployments.create(tenant.tenantId, body);
  }

  @Get()
  @RequiresScope('read')
  @ApiOperation({ summary: 'List deployments, newest first' })
  @ApiOkResponse({ type: DeploymentListDto })
  list(@CurrentTenant() tenant: TenantContext, @Query() query: DeploymentListQueryDto): Promise<DeploymentListDto> {
    return this.deployments.list(tenant.tenantId, query);
  }

  @Get(':deployment_id')
  @RequiresScope('read')
  @ApiOperation({ summary: 'Get a deployment: status, replicas and ready replicas, endpoint, request and error counts, latency' })
  @ApiOkResponse({ type: DeploymentDto })
  @ApiNotFoundResponse({ type: ProblemDto })
  get(@CurrentTenant() tenant: TenantContext, @Param('deployment_id', id()) deploymentId: string): Promise<DeploymentDto> {
    return this.deployments.get(tenant.tenantId, deploymentId);
  }

  @Delete(':deployment_id')
  @RequiresScope('write')
  @Audited('deployment.deleted', 'deployment', 'deployment_id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Stop serving and delete the deployment' })
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ProblemDto })
  delete(@CurrentTenant() tenant: TenantContext, @Param('deployment_id', id()) deploymentId: string): Promise<void> {
    return this.deployments.delete(tenant.tenantId, deploymentId);
  }

  @Post(':deployment_id/scale')
  @RequiresScope('write')
  @Audited('deployment.scaled', 'deployment', 'deployment_id')
  @HttpCode(200)
  @ApiOperation({ summary: 'Change the number of serving workers', description: '`{"replicas": N}` in the body, or `?replicas=N` as in the seed. 0 pauses serving: predict answers 503 until scaled up again.' })
  @ApiOkResponse({ type: DeploymentDto })
  @ApiNotFoundResponse({ type: ProblemDto })
  @ApiConflictResponse({ type: ProblemDto, description: 'The deployment is still deploying, or failed' })
  scale(
    @CurrentTenant() tenant: TenantContext,
    @Param('deployment_id', id()) deploymentId: string,
    @Body() body: ScaleDeploymentDto,
    @Query() query: ScaleQueryDto,
  ): Promise<DeploymentDto> {
    return this.deployments.scale(tenant.tenantId, deploymentId, body?.replicas ?? query.replicas);
  }

  @Post(':deployment_id/predict')
  @ExpensiveRoute()
  @RequiresScope('predict')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Predict with the deployed model',
    description:
      'Instances in the deployment’s input_shape, as JSON `{"instances": ...}`, or the whole batch as raw little-endian float32 values with `Content-Type: application/octet-stream` (the fastest form for large batches). Runs in ONNX Runtime on one of the deployment’s serving workers (the least busy one).',
  })
  @ApiConsumes('application/json', 'application/octet-stream')
  @ApiBody({ type: PredictRequestDto })
  @ApiOkResponse({ type: PredictResponseDto })
  @ApiNotFoundResponse({ type: ProblemDto })
  @ApiConflictResponse({ type: ProblemDto, description: 'The deployment failed' })
  @ApiUnprocessableEntityResponse({ type: ProblemDto, description: 'Instances of the wrong shape, not numbers, or too many' })
  @ApiServiceUnavailableResponse({ type: ProblemDto, description: 'Still deploying, scaled to 0, or at capacity (Retry-After)' })
  predict(@CurrentTenant() tenant: TenantContext, @Param('deployment_id', id()) deploymentId: string, @PredictBody() body: PredictInput, @Req() req: Request): Promise<PredictResponseDto> {
    return this.serving.predict(tenant.tenantId, deploymentId, body, receivedAtOf(req));
  }

  @Get(':deployment_id/manifests')
  @RequiresScope('read')
  @Header('Content-Type', 'application/yaml; charset=utf-8')
  @ApiOperation({ summary: 'Kubernetes manifests to run the model as its own service', description: 'Deployment, Service, HorizontalPodAutoscaler (and a PodDisruptionBudget from 2 replicas), as multi-document YAML.' })
  @ApiProduces('application/yaml')
  @ApiOkResponse({ description: 'Multi-document YAML', schema: { type: 'string' } })
  @ApiNotFoundResponse({ type: ProblemDto })
  @ApiConflictResponse({ type: ProblemDto, description: 'Not deployed (yet)' })
  manifests(@CurrentTenant() tenant: TenantContext, @Param('deployment_id', id()) deploymentId: string): Promise<string> {
    return this.deployments.manifests(tenant.tenantId, deploymentId);
  }

  @Get(':deployment_id/model')
  @RequiresScope('read')
  @ApiOperation({ summary: 'Download the ONNX file the deployment serves' })
  @ApiProduces('application/octet-stream')
  @ApiOkResponse({ description: 'The .onnx file' })
  @ApiNotFoundResponse({ type: ProblemDto })
  @ApiConflictResponse({ type: ProblemDto, description: 'Not deployed (yet)' })
  async model(@CurrentTenant() tenant: TenantContext, @Param('deployment_id', id()) deploymentId: string, @Res() res: Response): Promise<void> {
    sendFile(res, await this.deployments.model(tenant.tenantId, deploymentId));
  }
}
