import type { ArgumentMetadata } from '@nestjs/common';
import { CreateApiKeyDto } from '../auth/dto/api-key.dto';
import { CreateDeploymentDto } from '../deployments/dto/deployment.dto';
import { TrainRequestDto } from '../jobs/dto/train-request.dto';
import { DomainError } from './domain-error';
import { createValidationPipe, MAX_BODY_DEPTH } from './validation.pipe';

const pipe = createValidationPipe();
const body = (metatype: ArgumentMetadata['metatype']): ArgumentMetadata => ({ type: 'body', metatype });

async function fieldErrors(metatype: ArgumentMetadata['metatype'], value: string): Promise<Array<{ field: string; message: string }>> {
  try {
    await pipe.transform(JSON.parse(value), body(metatype));
    return [];
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    expect((e as DomainError).status).toBe(422);
    return (e as DomainError).errors as Array<{ field: string; message: string }>;
  }
}

const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

describe('the global validation pipe on hostile bodies', () => {
  it('refuses a deeply nested body with a 422 instead of overflowing the stack (a 500 before)', async () => {
    const errors = await fieldErrors(CreateApiKeyDto, `{"name": "k", "deep": ${nested(3000)}}`);
    expect(errors).toEqual([{ field: expect.stringMatching(/^deep(\.a)+$/), message: `the body is nested more than ${MAX_BODY_DEPTH} levels deep` }]);
    expect(await fieldErrors(CreateApiKeyDto, nested(100_000))).toHaveLength(1);
  });

  it('refuses prototype keys anywhere, which class-transformer dropped silently (the request then succeeded)', async () => {
    expect(await fieldErrors(CreateApiKeyDto, '{"name": "k", "__proto__": {"polluted": 1}}')).toEqual([{ field: '__proto__', message: 'property __proto__ should not exist' }]);
    expect(await fieldErrors(CreateApiKeyDto, '{"name": "k", "constructor": {"prototype": {"polluted": 1}}}')).toEqual([{ field: 'constructor', message: 'property constructor should not exist' }]);
    const deployment = '{"model_id": "00000000-0000-4000-8000-000000000000", "deployment_name": "d", "environment": {"__proto__": {"A": "b"}}}';
    expect(await fieldErrors(CreateDeploymentDto, deployment)).toEqual([{ field: 'environment.__proto__', message: 'property __proto__ should not exist' }]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses an array where a nested settings object goes', async () => {
    const train = await fieldErrors(TrainRequestDto, '{"dsl_code": "x", "backend": "tensorflow", "dataset": "Iris", "training_config": []}');
    expect(train).toEqual([{ field: 'training_config', message: 'training_config must be an object' }]);
    const deploy = await fieldErrors(CreateDeploymentDto, '{"model_id": "00000000-0000-4000-8000-000000000000", "deployment_name": "d", "config": [{"replicas": 1}]}');
    expect(deploy).toEqual([{ field: 'config', message: 'config must be an object' }]);
  });

  it('still takes ordinary bodies, nested settings included', async () => {
    expect(await fieldErrors(CreateApiKeyDto, '{"name": "ci key", "scopes": ["read"]}')).toEqual([]);
    expect(await fieldErrors(TrainRequestDto, '{"dsl_code": "x", "backend": "tensorflow", "dataset": "Iris", "training_config": {"epochs": 2, "metrics": ["accuracy"]}}')).toEqual([]);
  });
});

describe('null in an optional field', () => {
  it('is read as absent, in nested settings too (services crashed on it with a 500)', async () => {
    const train = (await pipe.transform(
      JSON.parse('{"dsl_code": null, "model_id": "00000000-0000-4000-8000-000000000000", "backend": "tensorflow", "dataset": "Iris", "webhook_url": null, "training_config": {"epochs": null, "batch_size": 8}}'),
      body(TrainRequestDto),
    )) as TrainRequestDto;
    expect(train).toBeInstanceOf(TrainRequestDto);
    expect('dsl_code' in train || 'webhook_url' in train).toBe(false);
    expect({ ...train.training_config }).toEqual({ batch_size: 8 });
    const deployment = (await pipe.transform(JSON.parse('{"model_id": "00000000-0000-4000-8000-000000000000", "deployment_name": "d", "environment": null}'), body(CreateDeploymentDto))) as CreateDeploymentDto;
    expect(deployment.environment).toBeUndefined();
  });

  it('is refused where the field is required', async () => {
    expect((await fieldErrors(CreateApiKeyDto, '{"name": null}')).map((e) => e.field)).toEqual(['name']);
  });
});
