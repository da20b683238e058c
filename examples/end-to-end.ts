/**
 * The platform end to end through the SDK: compile a small Iris model, train it while watching its epochs, deploy
 * it, predict three flowers, then delete the deployment. Exits non-zero on any failure.
 *
 *   NEURAL_URL=http://localhost:8000 NEURAL_API_KEY=demo_api_key_12345 npm run example
 */
import { createNeuralClient, jobEvents, unwrap, waitForJob, type NeuralClient } from '../libs/sdk/src';

const IRIS_MODEL = `network Flowers {
  input: (4,)
  layers:
    Dense(units=16, activation="relu")
    Output(units=3, activation="softmax")
  loss: "sparse_categorical_crossentropy"
  optimizer: Adam(learning_rate=0.05)
}`;

const SPECIES = ['setosa', 'versicolor', 'virginica'];

/** A typical flower of each species (sepal length, sepal width, petal length, petal width in cm). */
const FLOWERS = [
  [5.0, 3.4, 1.5, 0.2],
  [5.9, 2.8, 4.3, 1.3],
  [6.9, 3.1, 5.8, 2.2],
];

// The built-in Iris dataset standardizes each feature (mean and deviation of its train split), so inputs must be too.
const FEATURE_MEAN = [5.84, 3.05, 3.76, 1.2];
const FEATURE_STD = [0.83, 0.43, 1.76, 0.76];
const standardize = (row: number[]) => row.map((v, i) => (v - FEATURE_MEAN[i]) / FEATURE_STD[i]);

export interface EndToEndOptions {
  baseUrl: string;
  apiKey: string;
  epochs?: number;
  seed?: number;
  /** Where progress goes; default console.log. */
  log?: (line: string) => void;
  /** Per job; default 5 minutes. */
  timeoutMs?: number;
}

export interface EndToEndResult {
  modelId: string;
  trainJobId: string;
  deploymentId: string;
  /** Per epoch, its metrics as streamed. */
  epochs: Array<Record<string, number>>;
  /** The predicted class index of each of FLOWERS. */
  classes: number[];
}

export async function main(options: EndToEndOptions): Promise<EndToEndResult> {
  const log = options.log ?? console.log;
  const timeoutMs = options.timeoutMs ?? 300_000;
  const client = createNeuralClient({ baseUrl: options.baseUrl, apiKey: options.apiKey });

  const compiled = await unwrap(client.POST('/compile/sync', { body: { dsl_code: IRIS_MODEL, backend: 'tensorflow' } }));
  log(`compiled ${compiled.summary.name}: ${compiled.summary.total_params} parameters (model ${compiled.model_id})`);

  const train = await unwrap(
    client.POST('/jobs/train', {
      body: { model_id: compiled.model_id, backend: 'tensorflow', dataset: 'Iris', training_config: { epochs: options.epochs ?? 10, batch_size: 16 }, seed: options.seed ?? 3 },
    }),
  );
  log(`training: job ${train.job_id}`);
  const epochs: Array<Record<string, number>> = [];
  for await (const { event, data } of jobEvents(client, train.job_id)) {
    if (event === 'epoch') {
      epochs.push(data.metrics);
      const metrics = Object.entries(data.metrics).map(([name, value]) => `${name}=${value.toFixed(4)}`);
      log(`  epoch ${data.epoch}/${data.total_epochs} ${metrics.join(' ')}`);
    }
  }
  const trained = await waitForJob(client, train.job_id, { timeoutMs });
  if (trained.status !== 'completed' || !trained.model_id) throw new Error(`training ${trained.status}: ${JSON.stringify(trained.error)}`);
  log(`trained model ${trained.model_id}`);

  const deployment = await unwrap(
    client.POST('/deployments', { body: { model_id: trained.model_id, deployment_name: `flowers-${Date.now().toString(36)}`, backend: 'tensorflow' } }),
  );
  const id = { params: { path: { deployment_id: deployment.deployment_id } } };
  try {
    const deployJob = await waitForJob(client, deployment.job_id, { timeoutMs });
    const deployed = await unwrap(client.GET('/deployments/{deployment_id}', id));
    if (deployJob.status !== 'completed' || deployed.status !== 'deployed') throw new Error(`deployment ${deployed.status}: ${JSON.stringify(deployed.error ?? deployJob.error)}`);
    log(`deployed ${deployed.deployment_name} at ${deployed.endpoint}`);

    const prediction = await unwrap(client.POST('/deployments/{deployment_id}/predict', { ...id, body: { instances: FLOWERS.map(standardize) } }));
    const classes = prediction.classes ?? [];
    if (classes.length !== FLOWERS.length) throw new Error(`expected ${FLOWERS.length} classes, got ${JSON.stringify(prediction)}`);
    FLOWERS.forEach((flower, i) => log(`  ${flower.join(', ')} → ${SPECIES[classes[i]] ?? classes[i]}`));
    return { modelId: trained.model_id, trainJobId: train.job_id, deploymentId: deployment.deployment_id, epochs, classes };
  } finally {
    await removeDeployment(client, deployment.deployment_id);
  }
}

async function removeDeployment(client: NeuralClient, deploymentId: string): Promise<void> {
  await unwrap(client.DELETE('/deployments/{deployment_id}', { params: { path: { deployment_id: deploymentId } } }));
}

if (require.main === module) {
  main({ baseUrl: process.env.NEURAL_URL ?? 'http://localhost:8000', apiKey: process.env.NEURAL_API_KEY ?? 'demo_api_key_12345' }).then(
    () => process.exit(0),
    (err: unknown) => {
      const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : '';
      console.error(`end-to-end failed: ${err instanceof Error ? err.message : String(err)}${cause}`);
      process.exit(1);
    },
  );
}
