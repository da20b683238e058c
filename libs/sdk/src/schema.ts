/**
 * Generated from openapi.json by openapi-typescript: `npm run sdk:generate` (scripts/generate-sdk.ts). Do not edit;
 * change the gateway, run `npm run openapi:export`, then regenerate.
 */

export interface paths {
    "/": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** API information */
        get: operations["SystemController_info"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/admin/queues": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Queue dashboard, Bull Board (administrators; distributed mode)
         * @description HTML; its assets and JSON API live under /admin/queues/. HTTP 404 in embedded mode, which has no Bull queues. Requires the `admin` scope.
         */
        get: operations["QueueDashboardController_page"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/audit": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The audit log, newest first (administrators)
         * @description Key creation and revocation, failed authentications, refused scopes, webhook secret rotation, deletes, cancellations and scaling, with the acting key, IP and request id. Requires the `admin` scope.
         */
        get: operations["AuditController_list"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/auth/keys": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List API keys: your tenant's (an administrator sees every tenant's), newest first, revoked ones included
         * @description Requires the `read` scope.
         */
        get: operations["AuthController_listKeys"];
        put?: never;
        /**
         * Create an API key (administrators)
         * @description The key starts a tenant of its own unless tenant_id names an existing one. The secret `key` is shown only in this answer; only its SHA-256 is stored. Requires the `admin` scope.
         */
        post: operations["AuthController_createKey"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/auth/keys/{key_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Revoke an API key
         * @description Effective immediately on every gateway, for the key and every token issued for it. Requires the `write` scope.
         */
        delete: operations["AuthController_revokeKey"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/auth/token": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Exchange an API key for a short-lived bearer token
         * @description Send the API key in the API key header; a bearer token is not accepted here. Requires the `read` scope.
         */
        post: operations["AuthController_token"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/auth/webhook-secret": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The secret your webhook deliveries are signed with
         * @description Verify X-Neural-Signature (sha256=<hex HMAC-SHA256 of the raw body>) with it. Requires the `write` scope.
         */
        get: operations["AuthController_webhookSecret"];
        put?: never;
        /**
         * Replace the webhook signing secret
         * @description Deliveries made from now on, including retries, are signed with the new one. Requires the `write` scope.
         */
        post: operations["AuthController_rotateWebhookSecret"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/compile": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Submit an asynchronous compile job
         * @description Poll GET /jobs/{job_id}; its result is the sync answer. Requires the `write` scope. Also counts against the tenant's expensive-route budget (`X-RateLimit-*-expensive`).
         */
        post: operations["CompileController_submit"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/compile/sync": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Compile a DSL model now
         * @description Registers the compiled model under /models/. Requires the `write` scope. Also counts against the tenant's expensive-route budget (`X-RateLimit-*-expensive`).
         */
        post: operations["CompileController_sync"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/datasets": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List the built-in datasets and the tenant’s uploads, with shapes and sizes
         * @description Requires the `read` scope.
         */
        get: operations["DatasetsController_list"];
        put?: never;
        /**
         * Upload a dataset (CSV with a label column, or JSON {x, y})
         * @description multipart/form-data; the answer’s dataset_id (or the name) is usable as `dataset` in POST /jobs/train. Requires the `write` scope.
         */
        post: operations["DatasetsController_upload"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/datasets/{dataset_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get an uploaded dataset
         * @description Requires the `read` scope.
         */
        get: operations["DatasetsController_get"];
        put?: never;
        post?: never;
        /**
         * Delete an uploaded dataset and its files
         * @description Requires the `write` scope.
         */
        delete: operations["DatasetsController_delete"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/deployments": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List deployments, newest first
         * @description Requires the `read` scope.
         */
        get: operations["DeploymentsController_list"];
        put?: never;
        /**
         * Deploy a trained model behind a prediction endpoint
         * @description Answers at once with status `deploying`; the deploy job (job_id, GET /jobs/{id}) loads the model in ONNX Runtime and the status becomes `deployed`, or `failed` with a reason. Requires the `write` scope.
         */
        post: operations["DeploymentsController_create"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/deployments/{deployment_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get a deployment: status, replicas and ready replicas, endpoint, request and error counts, latency
         * @description Requires the `read` scope.
         */
        get: operations["DeploymentsController_get"];
        put?: never;
        post?: never;
        /**
         * Stop serving and delete the deployment
         * @description Requires the `write` scope.
         */
        delete: operations["DeploymentsController_delete"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/deployments/{deployment_id}/manifests": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Kubernetes manifests to run the model as its own service
         * @description Deployment, Service, HorizontalPodAutoscaler (and a PodDisruptionBudget from 2 replicas), as multi-document YAML. Requires the `read` scope.
         */
        get: operations["DeploymentsController_manifests"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/deployments/{deployment_id}/model": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Download the ONNX file the deployment serves
         * @description Requires the `read` scope.
         */
        get: operations["DeploymentsController_model"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/deployments/{deployment_id}/predict": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Predict with the deployed model
         * @description Instances in the deployment’s input_shape, as JSON `{"instances": ...}`, or the whole batch as raw little-endian float32 values with `Content-Type: application/octet-stream` (the fastest form for large batches). Runs in ONNX Runtime on one of the deployment’s serving workers (the least busy one). Requires the `predict` scope. Also counts against the tenant's expensive-route budget (`X-RateLimit-*-expensive`).
         */
        post: operations["DeploymentsController_predict"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/deployments/{deployment_id}/scale": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Change the number of serving workers
         * @description `{"replicas": N}` in the body, or `?replicas=N` as in the seed. 0 pauses serving: predict answers 503 until scaled up again. Requires the `write` scope.
         */
        post: operations["DeploymentsController_scale"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/experiments": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List experiments, newest first or sorted by a final metric
         * @description Requires the `read` scope.
         */
        get: operations["ExperimentsController_list"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/experiments/{experiment_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get an experiment: hyperparameters, per-epoch history, final, best and test metrics, artifacts
         * @description Requires the `read` scope.
         */
        get: operations["ExperimentsController_get"];
        put?: never;
        post?: never;
        /**
         * Delete an experiment and its artifacts (a running one is cancelled first)
         * @description Requires the `write` scope.
         */
        delete: operations["ExperimentsController_delete"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/experiments/{experiment_id}/artifacts/{artifact_name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Download an artifact: model.json, weights.bin, model.onnx, model_tensorflow.py, model_pytorch.py, weights.pt, metrics.csv, training.log
         * @description Requires the `read` scope.
         */
        get: operations["ExperimentsController_artifact"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/experiments/{experiment_id}/compare": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Compare experiments: hyperparameter differences, final metrics, histories, and the best per metric
         * @description compare_with=<id> (repeatable) or ids=<id>,<id>; an unknown id is a 404. Requires the `read` scope.
         */
        get: operations["ExperimentsController_compare"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/health": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Health of the API and its dependencies
         * @description HTTP 503 when a required service (database, Redis, queue) is down.
         */
        get: operations["SystemController_check"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/health/live": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Liveness probe: the process is up and serving */
        get: operations["SystemController_live"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/health/ready": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Readiness probe: the database and the queue answer */
        get: operations["SystemController_ready"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/jobs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List jobs, newest first
         * @description Requires the `read` scope.
         */
        get: operations["JobsController_list"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/jobs/hpo": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Submit a hyperparameter sweep
         * @description Searches the HPO(...) sites of the DSL model: each trial is a training job of its own (with its experiment, grouped under the sweep by sweep_id) run by whichever worker is free, at most search.parallelism at once; successive halving stops weak trials at their rungs (status pruned). GET /jobs/{job_id} shows the counts, the leaderboard and the best trial; the events stream has a `trial` event per finished trial. When the sweep completes, the best trial’s model is registered under /models/ with the chosen values written into its DSL. DELETE cancels the sweep and its unfinished trials. Requires the `write` scope. Also counts against the tenant's expensive-route budget (`X-RateLimit-*-expensive`).
         */
        post: operations["JobsController_hpo"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/jobs/train": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Submit a training job
         * @description Trains the DSL model (dsl_code or model_id) on a dataset with the tfjs engine, or with PyTorch for backend pytorch. training_config overrides the DSL train block. HPO(...) sites take their default values (summary.search_space lists them; POST /jobs/hpo searches them). Answers the job and its experiment; follow GET /jobs/{job_id} or the events stream. The trained model is registered under /models/. Requires the `write` scope. Also counts against the tenant's expensive-route budget (`X-RateLimit-*-expensive`).
         */
        post: operations["JobsController_train"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/jobs/{job_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get a job
         * @description Requires the `read` scope.
         */
        get: operations["JobsController_get"];
        put?: never;
        post?: never;
        /**
         * Cancel a job
         * @description Answers the job (status cancelled); 409 when it already finished. Cancelling a sweep cancels its unfinished trials. Requires the `write` scope.
         */
        delete: operations["JobsController_cancel"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/jobs/{job_id}/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Stream the job as Server-Sent Events
         * @description A `job` event with the whole job at the start and at every change, `progress` events per batch and `epoch` events with each epoch’s metrics, until the job finishes. Works across gateways and workers (Redis pub/sub). Requires the `read` scope.
         */
        get: operations["JobsController_events"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/jobs/{job_id}/webhooks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The job’s webhook deliveries, with every attempt
         * @description Requires the `read` scope.
         */
        get: operations["JobsController_webhooks"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Prometheus metrics (administrators)
         * @description Prometheus text format 0.0.4: HTTP requests and latency by route template and status, queue depth by queue and state, job durations by type and outcome, training samples, predict latency per deployment, webhook delivery outcomes and process metrics, all prefixed `neural_`. Job, training and webhook metrics come from the process that runs the jobs: this gateway in embedded mode, each worker (on WORKER_METRICS_PORT) in distributed mode. Requires the `admin` scope.
         */
        get: operations["MetricsController_scrape"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/models": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List compiled models, newest first
         * @description Requires the `read` scope.
         */
        get: operations["ModelsController_list"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/models/{model_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get a model: summary, source DSL, backend, size
         * @description Requires the `read` scope.
         */
        get: operations["ModelsController_get"];
        put?: never;
        post?: never;
        /**
         * Delete a model and its stored file
         * @description Requires the `write` scope.
         */
        delete: operations["ModelsController_delete"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/models/{model_id}/download": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Download the model: the generated file, or (trained models) ONNX, tfjs, code or PyTorch weights
         * @description Pick a form with ?format=; `formats` of GET /models/{id} lists them. Requires the `read` scope.
         */
        get: operations["ModelsController_download"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        ApiInfoDto: {
            /** @example Compile, train, track and serve models written in the Neural DSL */
            description: string;
            /**
             * @description Layer types the DSL compiler knows
             * @example 80
             */
            dsl_layer_types: number;
            links: components["schemas"]["ApiLinksDto"];
            /**
             * @example embedded
             * @enum {string}
             */
            mode: "embedded" | "distributed";
            /** @example Neural DSL Platform */
            name: string;
            /** @example 0.1.0 */
            version: string;
        };
        ApiKeyDto: {
            /** Format: date-time */
            created_at: string;
            /** Format: uuid */
            id: string;
            /**
             * Format: date-time
             * @description Updated at most once a minute
             */
            last_used_at: string | null;
            name: string;
            /**
             * @description The first characters of the key, to tell keys apart
             * @example nk_Q2xv
             */
            prefix: string;
            /** Format: date-time */
            revoked_at: string | null;
            scopes: ("read" | "write" | "predict" | "admin")[];
            /** Format: uuid */
            tenant_id: string;
        };
        ApiKeyListDto: {
            keys: components["schemas"]["ApiKeyDto"][];
            limit: number;
            skip: number;
            total: number;
        };
        ApiLinksDto: {
            /** @example /docs */
            docs: string;
            /** @example /health */
            health: string;
            /** @example /openapi.json */
            openapi: string;
            /** @example /redoc */
            redoc: string;
        };
        ArtifactDto: {
            /** @example application/octet-stream */
            content_type: string;
            /** @example /experiments/6f1c.../artifacts/model.onnx */
            download_url: string;
            /** @example model.onnx */
            name: string;
            /** @example 868934 */
            size_bytes: number;
        };
        AuditEventDto: {
            /** @example api_key.revoked */
            action: string;
            /** @description The API key that acted */
            actor_key_id: string | null;
            /** Format: date-time */
            created_at: string;
            details: {
                [key: string]: unknown;
            };
            id: string;
            ip: string | null;
            request_id: string | null;
            target_id: string | null;
            target_type: string | null;
            /** @description The tenant acted on or as; null for a failed authentication */
            tenant_id: string | null;
        };
        AuditEventListDto: {
            events: components["schemas"]["AuditEventDto"][];
            limit: number;
            skip: number;
            total: number;
        };
        CompareDto: {
            /** @description Per final metric, the experiment that did best (min for losses and errors, max otherwise) */
            best: Record<string, unknown>;
            /** @description The experiment of the path first, then the others in the order given */
            experiments: components["schemas"]["ComparedExperimentDto"][];
            /** @description Final metrics side by side: { metric: { experiment_id: value } } */
            final_metrics: Record<string, unknown>;
            /**
             * @description Each hyperparameter that differs between them: { name: { experiment_id: value } }
             * @example {
             *       "learning_rate": {
             *         "a…": 0.001,
             *         "b…": 0.01
             *       }
             *     }
             */
            hyperparameter_differences: Record<string, unknown>;
        };
        ComparedExperimentDto: {
            best_metrics: Record<string, unknown> | null;
            /** Format: uuid */
            experiment_id: string;
            final_metrics: Record<string, unknown> | null;
            history: Record<string, unknown>[];
            hyperparameters: Record<string, unknown>;
            name: string;
            /** @enum {string} */
            status: "pending" | "running" | "completed" | "failed" | "cancelled" | "pruned";
            test_metrics: Record<string, unknown> | null;
        };
        CompileAcceptedDto: {
            /** Format: uuid */
            job_id: string;
            message: string;
            /** @enum {string} */
            status: "pending";
        };
        CompileRequestDto: {
            /** @description Insert a Flatten before a Dense/Output that receives an image tensor (default true) */
            auto_flatten_output?: boolean;
            /**
             * @example tensorflow
             * @enum {string}
             */
            backend: "tensorflow" | "pytorch" | "onnx";
            /**
             * @description Dataset the generated training script loads by default
             * @example MNIST
             */
            dataset?: string;
            /**
             * @description Model source in the Neural DSL
             * @example Model MyModel {
             *       Input(shape=[28, 28, 1])
             *       Conv2D(filters=32, kernel_size=3, activation=relu)
             *       Dense(units=10, activation=softmax)
             *     }
             */
            dsl_code: string;
            /** @description Accepted for the seed's compatibility: HPO(...) sites always compile with their default values (one hpo_default warning each) and are listed in summary.search_space; POST /jobs/hpo searches them */
            enable_hpo?: boolean;
            /** @description POST /compile/ only: receives signed started/completed/failed/cancelled notifications (see GET /jobs/{id}/webhooks) */
            webhook_url?: string;
        };
        CompileResultDto: {
            /** @enum {string} */
            backend: "tensorflow" | "pytorch" | "onnx";
            /** @description Generated Python (null for onnx: download the file) */
            compiled_code: string | null;
            /** @example /models/6f1c.../download */
            download_url: string;
            /** Format: uuid */
            model_id: string;
            /** @enum {string} */
            status: "completed";
            summary: components["schemas"]["ModelSummaryDto"];
            warnings: components["schemas"]["DslDiagnosticDto"][];
        };
        CreateApiKeyDto: {
            /**
             * @description Letters, digits, space and ._-, 1 to 100 characters
             * @example ci-pipeline
             */
            name: string;
            /**
             * @description write implies read and predict; admin implies everything
             * @default [
             *       "read",
             *       "write"
             *     ]
             */
            scopes: ("read" | "write" | "predict" | "admin")[];
            /**
             * Format: uuid
             * @description Administrators only: add the key to this existing tenant instead of starting a new one
             */
            tenant_id?: string;
        };
        CreateDeploymentDto: {
            /**
             * @description Recorded with the deployment; serving always runs the model’s ONNX export in ONNX Runtime
             * @default onnx
             * @enum {string}
             */
            backend: "tensorflow" | "pytorch" | "onnx";
            config?: components["schemas"]["DeploymentConfigDto"];
            /**
             * @description Unique per tenant: 1 to 63 letters, digits, _, . or -, starting with a letter or digit
             * @example mnist-classifier
             */
            deployment_name: string;
            /**
             * @description Environment variables of the model server (manifests); at most 64
             * @example {
             *       "LOG_LEVEL": "info"
             *     }
             */
            environment?: {
                [key: string]: string;
            };
            /**
             * Format: uuid
             * @description A trained model (GET /models/, `trained: true`) or the experiment that trained it
             */
            model_id: string;
            /** @description Receives signed started/progress/completed/failed notifications of the deploy job */
            webhook_url?: string;
        };
        CreatedApiKeyDto: {
            /** Format: date-time */
            created_at: string;
            /** Format: uuid */
            id: string;
            /**
             * @description The secret key; shown only in this answer
             * @example nk_Q2xvdWQgY29tcHV0aW5nIGlzIGp1c3QgYW5vdGhlciBjb21wdXRlcg
             */
            key: string;
            /**
             * Format: date-time
             * @description Updated at most once a minute
             */
            last_used_at: string | null;
            name: string;
            /**
             * @description The first characters of the key, to tell keys apart
             * @example nk_Q2xv
             */
            prefix: string;
            /** Format: date-time */
            revoked_at: string | null;
            scopes: ("read" | "write" | "predict" | "admin")[];
            /** Format: uuid */
            tenant_id: string;
        };
        DatasetDto: {
            /** @description False when its files are not installed on this server */
            available: boolean;
            class_names?: string[] | null;
            /** Format: date-time */
            created_at?: string | null;
            /**
             * Format: uuid
             * @description Uploads only; usable as `dataset` in POST /jobs/train
             */
            dataset_id?: string | null;
            description: string;
            /** @enum {string|null} */
            format?: "csv" | "json" | null;
            /** @enum {string} */
            kind: "builtin" | "upload";
            /** @example [] */
            label_shape: number[];
            /** @example MNIST */
            name: string;
            /** @example 10 */
            num_classes: number | null;
            /**
             * @example [
             *       28,
             *       28,
             *       1
             *     ]
             */
            sample_shape: number[];
            /** @description Bytes uploaded */
            size_bytes?: number | null;
            source: string;
            /** @enum {string} */
            task: "classification" | "regression";
            /** @example 10000 */
            test_samples: number;
            /** @example 60000 */
            train_samples: number;
            unavailable_reason?: string | null;
        };
        DatasetListDto: {
            /** @description The built-in datasets first, then the tenant’s uploads, newest first */
            datasets: components["schemas"]["DatasetDto"][];
            limit: number;
            skip: number;
            total: number;
        };
        DatasetUploadDto: {
            /**
             * Format: binary
             * @description A CSV file with a header row and a label column, or JSON {"x": [...], "y": [...]}
             */
            file: string;
            /**
             * @description Default: from the file name’s extension
             * @enum {string}
             */
            format?: "csv" | "json";
            /**
             * @description CSV: the label column (default: label, target, class or y, else the last column)
             * @example species
             */
            label_column?: string;
            /**
             * @description Unique among the tenant’s datasets; letters, digits, _, ., -
             * @example iris_measurements
             */
            name: string;
            /**
             * @description Fraction kept as the test split (0 ≤ x < 1, default 0)
             * @example 0.2
             */
            test_split?: number;
        };
        DeploymentConfigDto: {
            /**
             * @description Kubernetes CPU quantity (manifests)
             * @default 1000m
             * @example 1000m
             */
            cpu_limit: string;
            /**
             * @description Readiness and liveness probe path (manifests)
             * @default /health
             * @example /health
             */
            health_check_path: string;
            /** @description Upper bound of the HorizontalPodAutoscaler (manifests); default twice the replicas */
            max_replicas?: number;
            /**
             * @description Kubernetes memory quantity (manifests)
             * @default 2Gi
             * @example 2Gi
             */
            memory_limit: string;
            /**
             * @description Port of the model server and its Service (manifests)
             * @default 8000
             * @example 8000
             */
            port: number;
            /**
             * @description Serving workers (ONNX Runtime sessions in worker threads) per gateway; 0 pauses serving. At most DEPLOYMENT_MAX_REPLICAS.
             * @default 1
             */
            replicas: number;
            /**
             * @description CPU utilisation the autoscaler aims at, in percent (manifests)
             * @default 70
             */
            target_cpu_utilization: number;
        };
        DeploymentConfigViewDto: {
            cpu_limit: string;
            health_check_path: string;
            max_replicas?: number;
            memory_limit: string;
            port: number;
            replicas: number;
            target_cpu_utilization?: number;
        };
        DeploymentDto: {
            /** @enum {string} */
            backend: "tensorflow" | "pytorch" | "onnx";
            config: components["schemas"]["DeploymentConfigViewDto"];
            /** Format: date-time */
            created_at: string;
            /** Format: date-time */
            deployed_at: string | null;
            /** Format: uuid */
            deployment_id: string;
            deployment_name: string;
            /** @example /deployments/{id}/predict */
            endpoint: string;
            environment: {
                [key: string]: string;
            };
            /** @description `{code, detail}` when failed */
            error: Record<string, unknown> | null;
            /** @description Of those, the ones answered with an error (4xx or 5xx) */
            error_count: number;
            /** Format: uuid */
            experiment_id: string | null;
            /** @description Per instance, without the batch dimension */
            input_shape: number[] | null;
            /**
             * Format: uuid
             * @description The deploy job (GET /jobs/{id})
             */
            job_id: string;
            /** @description Median predict latency_ms since the deployment was created */
            latency_p50_ms: number | null;
            latency_p99_ms: number | null;
            /** Format: uuid */
            model_id: string;
            /** @enum {string|null} */
            output_kind: "softmax" | "sigmoid" | "raw" | null;
            output_shape: number[] | null;
            /** @description Serving workers live with a warm session on the gateway that answered */
            ready_replicas: number;
            /** @description Desired serving workers per gateway */
            replicas: number;
            /** @description Predict requests with a well-formed body since the deployment was created, on every gateway */
            request_count: number;
            /** @enum {string} */
            runtime: "onnxruntime";
            /**
             * @description deploying → deployed (or failed); paused while scaled to 0
             * @enum {string}
             */
            status: "deploying" | "deployed" | "paused" | "failed";
            /** Format: date-time */
            updated_at: string;
        };
        DeploymentListDto: {
            deployments: components["schemas"]["DeploymentDto"][];
            limit: number;
            skip: number;
            total: number;
        };
        DslDiagnosticDto: {
            /** @example 13 */
            column: number;
            /** @example did you mean Dense? */
            hint?: string;
            /** @example 4 */
            line: number;
            /** @example Dropout rate should be between 0 and 1, got 1.5 */
            message: string;
        };
        EarlyStoppingDto: {
            /**
             * @description The first rung: epochs every trial trains before it can be stopped
             * @default 1
             */
            min_epochs: number;
            /**
             * @description η: rungs at min_epochs·η^k, and about 1/η of the trials at a rung go on
             * @default 3
             */
            reduction_factor: number;
            /**
             * @description successive_halving (asynchronous, ASHA; `asha` is the same) or none
             * @default successive_halving
             * @enum {string}
             */
            type: "successive_halving" | "asha" | "none";
        };
        ExperimentDto: {
            artifacts: components["schemas"]["ArtifactDto"][];
            /** @enum {string} */
            backend: "tensorflow" | "pytorch" | "onnx";
            /** @description Per metric over the epochs: the minimum of losses and errors, the maximum of the others */
            best_metrics: Record<string, unknown> | null;
            /** Format: date-time */
            completed_at: string | null;
            /**
             * @description What the engine ran on: tensorflow, wasm or cpu (tfjs), torch
             * @example wasm
             */
            compute_backend: string | null;
            /** Format: date-time */
            created_at: string;
            /** @example MNIST */
            dataset: string;
            /** @description The DSL source trained */
            dsl_code: string;
            /**
             * @description Who trained the weights
             * @enum {string}
             */
            engine: "tfjs" | "pytorch";
            /** @example 3 */
            epochs_completed: number;
            /** @description {code, detail} when the run failed */
            error: Record<string, unknown> | null;
            /** Format: uuid */
            experiment_id: string;
            /**
             * @example {
             *       "accuracy": 0.98,
             *       "loss": 0.05,
             *       "val_accuracy": 0.98,
             *       "val_loss": 0.06
             *     }
             */
            final_metrics: Record<string, unknown> | null;
            /** @description One row per epoch: loss, metrics, val_*, epoch_seconds, samples_per_second, learning_rate */
            history: {
                [key: string]: number;
            }[];
            /**
             * @example {
             *       "batch_size": 32,
             *       "epochs": 10,
             *       "learning_rate": 0.001,
             *       "loss": "categorical_crossentropy",
             *       "optimizer": "Adam"
             *     }
             */
            hyperparameters: Record<string, unknown>;
            /** Format: uuid */
            job_id: string;
            /**
             * Format: uuid
             * @description The trained model under /models/, once completed (for a sweep trial: only the best, once the sweep completes)
             */
            model_id: string | null;
            /** @example my_experiment */
            name: string;
            /** @description The resolved training plan (engine, shapes, optimizer, schedule, clipping, ...) */
            plan: Record<string, unknown>;
            seed: number | null;
            /** Format: date-time */
            started_at: string | null;
            /** @enum {string} */
            status: "pending" | "running" | "completed" | "failed" | "cancelled" | "pruned";
            /**
             * Format: uuid
             * @description The sweep (POST /jobs/hpo) this run is a trial of
             */
            sweep_id: string | null;
            /** @description On the dataset’s test split, after training */
            test_metrics: Record<string, unknown> | null;
        };
        ExperimentListDto: {
            experiments: components["schemas"]["ExperimentListItemDto"][];
            limit: number;
            skip: number;
            total: number;
        };
        ExperimentListItemDto: {
            /** @enum {string} */
            backend: "tensorflow" | "pytorch" | "onnx";
            /** @description Per metric over the epochs: the minimum of losses and errors, the maximum of the others */
            best_metrics: Record<string, unknown> | null;
            /** Format: date-time */
            completed_at: string | null;
            /**
             * @description What the engine ran on: tensorflow, wasm or cpu (tfjs), torch
             * @example wasm
             */
            compute_backend: string | null;
            /** Format: date-time */
            created_at: string;
            /** @example MNIST */
            dataset: string;
            /**
             * @description Who trained the weights
             * @enum {string}
             */
            engine: "tfjs" | "pytorch";
            /** @example 3 */
            epochs_completed: number;
            /** Format: uuid */
            experiment_id: string;
            /**
             * @example {
             *       "accuracy": 0.98,
             *       "loss": 0.05,
             *       "val_accuracy": 0.98,
             *       "val_loss": 0.06
             *     }
             */
            final_metrics: Record<string, unknown> | null;
            /**
             * @example {
             *       "batch_size": 32,
             *       "epochs": 10,
             *       "learning_rate": 0.001,
             *       "loss": "categorical_crossentropy",
             *       "optimizer": "Adam"
             *     }
             */
            hyperparameters: Record<string, unknown>;
            /** Format: uuid */
            job_id: string;
            /**
             * Format: uuid
             * @description The trained model under /models/, once completed (for a sweep trial: only the best, once the sweep completes)
             */
            model_id: string | null;
            /** @example my_experiment */
            name: string;
            seed: number | null;
            /** Format: date-time */
            started_at: string | null;
            /** @enum {string} */
            status: "pending" | "running" | "completed" | "failed" | "cancelled" | "pruned";
            /**
             * Format: uuid
             * @description The sweep (POST /jobs/hpo) this run is a trial of
             */
            sweep_id: string | null;
            /** @description On the dataset’s test split, after training */
            test_metrics: Record<string, unknown> | null;
        };
        HealthReportDto: {
            /**
             * @example embedded
             * @enum {string}
             */
            mode: "embedded" | "distributed";
            /**
             * @description The PyTorch version a live worker trains backend pytorch jobs with; null when none can
             * @example 1.13.0
             */
            pytorch: string | null;
            services: components["schemas"]["HealthServicesDto"];
            /**
             * @example healthy
             * @enum {string}
             */
            status: "healthy" | "unhealthy";
            /**
             * Format: date-time
             * @example 2024-01-01T12:00:00.000Z
             */
            timestamp: string;
            /**
             * @description The tfjs backend the workers’ training processes run on (before one has started: the best one installed)
             * @example wasm
             * @enum {string}
             */
            training_backend: "tensorflow" | "wasm" | "cpu";
            /** @example 0.1.0 */
            version: string;
        };
        HealthServicesDto: {
            /**
             * @example healthy
             * @enum {string}
             */
            api: "healthy" | "unhealthy" | "disabled";
            /**
             * @description SELECT 1 on the database
             * @example healthy
             * @enum {string}
             */
            database: "healthy" | "unhealthy" | "disabled";
            /**
             * @description The job queue driver
             * @example healthy
             * @enum {string}
             */
            queue: "healthy" | "unhealthy" | "disabled";
            /**
             * @description PING; disabled in embedded mode
             * @example disabled
             * @enum {string}
             */
            redis: "healthy" | "unhealthy" | "disabled";
            /**
             * @description A worker heartbeat seen recently (reported, not required)
             * @example healthy
             * @enum {string}
             */
            worker: "healthy" | "unhealthy" | "disabled";
        };
        HpoAcceptedDto: {
            /** Format: uuid */
            job_id: string;
            message: string;
            /** @description The sites searched: {path, kind, values | low, high, step, default, line, column} */
            search_space: Record<string, unknown>[];
            /** @enum {string} */
            status: "pending";
            /** @example 6 */
            total_trials: number;
            /** @description What the sweep does differently from what was asked (a small space, an unavailable search_method, points that cannot train) */
            warnings: string[];
        };
        HpoRequestDto: {
            /** @description Insert a Flatten before a Dense/Output that receives an image tensor (default true) */
            auto_flatten_output?: boolean;
            /**
             * @description pytorch trains with PyTorch (when the worker has it); tensorflow and onnx train with the tfjs engine
             * @example tensorflow
             * @enum {string}
             */
            backend: "tensorflow" | "pytorch" | "onnx";
            /**
             * @description A built-in dataset (GET /datasets) or an uploaded dataset’s id or name
             * @example MNIST
             */
            dataset: string;
            /** @description Model source in the Neural DSL (or give model_id) */
            dsl_code?: string;
            /**
             * @description Groups runs; defaults to the model name
             * @example my_experiment
             */
            experiment_name?: string;
            /**
             * Format: uuid
             * @description Train the DSL of a registered model instead of dsl_code
             */
            model_id?: string;
            search: components["schemas"]["SearchDto"];
            /**
             * @description Makes the run reproducible: the same seed, data and backend give the same weights
             * @example 42
             */
            seed?: number;
            training_config?: components["schemas"]["TrainingConfigDto"];
            /** @description Receives signed started/progress/completed/failed/cancelled notifications (see GET /jobs/{id}/webhooks) */
            webhook_url?: string;
        };
        JobDto: {
            /** Format: date-time */
            completed_at: string | null;
            /** Format: date-time */
            created_at: string;
            current_epoch: number | null;
            /** @description {code, detail, errors?} */
            error: Record<string, unknown> | null;
            experiment_id: string | null;
            /** Format: uuid */
            job_id: string;
            /** @description A train job: the metrics of its last finished epoch (loss, accuracy, val_loss, ...) */
            metrics: Record<string, unknown> | null;
            model_id: string | null;
            progress: number;
            /** @description For a compile job: the same object as POST /compile/sync answers; for a train job: experiment_id, model_id, final_metrics, best_metrics, test_metrics, artifacts, download_url */
            result: Record<string, unknown> | null;
            /** Format: date-time */
            started_at: string | null;
            /** @enum {string} */
            status: "pending" | "running" | "completed" | "failed" | "cancelled" | "pruned";
            /** @description A sweep (type hpo): counts, leaderboard and best trial */
            sweep: components["schemas"]["SweepViewDto"] | null;
            /**
             * Format: uuid
             * @description A sweep trial: its sweep’s job id
             */
            sweep_id: string | null;
            total_epochs: number | null;
            /** @description A sweep trial: its 0-based place in the sweep */
            trial_index: number | null;
            /** @enum {string} */
            type: "compile" | "train" | "deploy" | "hpo";
            /** @description The worker that last started the job */
            worker_id: string | null;
        };
        JobListDto: {
            jobs: components["schemas"]["JobDto"][];
            limit: number;
            skip: number;
            total: number;
        };
        LayerSummaryDto: {
            /** @example conv2d_1 */
            id: string;
            /**
             * @example [
             *       null,
             *       26,
             *       26,
             *       32
             *     ]
             */
            output_shape: (number | null)[];
            /** @example 320 */
            params: number | null;
            /** @example Conv2D */
            type: string;
        };
        LivenessReportDto: {
            /**
             * @example alive
             * @enum {string}
             */
            status: "alive";
            /**
             * @description Seconds since the process started
             * @example 42
             */
            uptime_seconds: number;
        };
        ModelDto: {
            /** @enum {string} */
            backend: "tensorflow" | "pytorch" | "onnx";
            /** @example text/x-python */
            content_type: string;
            /** Format: date-time */
            created_at: string;
            download_url: string;
            /** @description The DSL source the model was compiled from */
            dsl_code: string;
            /**
             * Format: uuid
             * @description The experiment that trained it
             */
            experiment_id: string | null;
            /** @example MyModel.py */
            filename: string;
            /**
             * @description Values of ?format= the download takes
             * @example [
             *       "code",
             *       "onnx",
             *       "tfjs",
             *       "tensorflow",
             *       "pytorch"
             *     ]
             */
            formats: string[];
            /**
             * @description The HPO values the sweep chose (also written into its dsl)
             * @example {
             *       "dense_1.units": 128,
             *       "optimizer.learning_rate": 0.001
             *     }
             */
            hyperparameters: Record<string, unknown> | null;
            /** Format: uuid */
            job_id: string | null;
            /** Format: uuid */
            model_id: string;
            /** @example MyModel */
            name: string;
            /** @example 868934 */
            size_bytes: number;
            summary: components["schemas"]["ModelSummaryDto"];
            /**
             * Format: uuid
             * @description The sweep that chose it as its best trial
             */
            sweep_id: string | null;
            total_params: number | null;
            /** @description True for a model produced by a training job (it has trained weights) */
            trained: boolean;
            warnings: components["schemas"]["DslDiagnosticDto"][];
        };
        ModelListDto: {
            limit: number;
            models: components["schemas"]["ModelListItemDto"][];
            skip: number;
            total: number;
        };
        ModelListItemDto: {
            /** @enum {string} */
            backend: "tensorflow" | "pytorch" | "onnx";
            /** Format: date-time */
            created_at: string;
            download_url: string;
            /**
             * Format: uuid
             * @description The experiment that trained it
             */
            experiment_id: string | null;
            /**
             * @description Values of ?format= the download takes
             * @example [
             *       "code",
             *       "onnx",
             *       "tfjs",
             *       "tensorflow",
             *       "pytorch"
             *     ]
             */
            formats: string[];
            /**
             * @description The HPO values the sweep chose (also written into its dsl)
             * @example {
             *       "dense_1.units": 128,
             *       "optimizer.learning_rate": 0.001
             *     }
             */
            hyperparameters: Record<string, unknown> | null;
            /** Format: uuid */
            job_id: string | null;
            /** Format: uuid */
            model_id: string;
            /** @example MyModel */
            name: string;
            /** @example 868934 */
            size_bytes: number;
            /**
             * Format: uuid
             * @description The sweep that chose it as its best trial
             */
            sweep_id: string | null;
            total_params: number | null;
            /** @description True for a model produced by a training job (it has trained weights) */
            trained: boolean;
        };
        ModelSummaryDto: {
            /**
             * @description One shape, or one per input
             * @example [
             *       null,
             *       28,
             *       28,
             *       1
             *     ]
             */
            input_shape: (number | null)[] | (number | null)[][];
            layers: components["schemas"]["LayerSummaryDto"][];
            /** @example MyModel */
            name: string;
            /**
             * @example [
             *       null,
             *       10
             *     ]
             */
            output_shape: (number | null)[];
            /**
             * @description Every HPO(...) site: path (<layer id>.<parameter>, optimizer.learning_rate, training.batch_size), kind (choice, range, log_range), values or low/high/step, the default compile and plain training use, and its position
             * @example [
             *       {
             *         "column": 11,
             *         "default": 64,
             *         "kind": "choice",
             *         "line": 4,
             *         "path": "dense_1.units",
             *         "values": [
             *           64,
             *           128
             *         ]
             *       }
             *     ]
             */
            search_space?: Record<string, unknown>[];
            /** @example 216650 */
            total_params: number | null;
            /** @example 216650 */
            trainable_params: number | null;
        };
        PredictRequestDto: {
            /**
             * @description Instances in the model’s input shape (input_shape of the deployment): nested arrays of numbers, or each instance a base64 string of little-endian float32 values, or one base64 string with the whole batch. At most PREDICT_MAX_BATCH instances.
             * @example [
             *       [
             *         [
             *           0.1
             *         ],
             *         [
             *           0.2
             *         ]
             *       ]
             *     ]
             */
            instances: unknown[] | string;
        };
        PredictResponseDto: {
            /** @description Per instance, the predicted class: argmax of a softmax output, or p >= 0.5 of a single sigmoid unit */
            classes?: number[];
            /** @description Time spent in the gateway on this request: decoding, the queue of a serving worker, inference and encoding */
            latency_ms: number;
            /** Format: uuid */
            model_id: string;
            /** @description Per instance, the model output (nested arrays of its output_shape) */
            predictions: unknown[];
        };
        /** @description Every 4xx/5xx answer (application/problem+json). */
        Problem: {
            /**
             * @description Machine-readable error code
             * @example validation_error
             */
            code: string;
            /**
             * @description A human sentence
             * @example The request is not valid; see errors for each field.
             */
            detail: string;
            /**
             * Format: uuid
             * @description Only on a 500: the id the failure was logged under
             */
            error_id?: string;
            /**
             * @description Per-item problems: {field, message} for validation, {line, column, message, hint?} for DSL errors
             * @example [
             *       {
             *         "field": "backend",
             *         "message": "backend must be one of the following values: tensorflow, pytorch, onnx"
             *       }
             *     ]
             */
            errors?: {
                [key: string]: unknown;
            }[];
            /**
             * @description The X-Request-Id of the request
             * @example 5b0e1c52-3f2a-4c55-9d0a-8f3e4f1b2c3d
             */
            request_id: string;
            /**
             * @description The HTTP status
             * @example 422
             */
            status: number;
            /** @example Unprocessable Entity */
            title: string;
        };
        ReadinessReportDto: {
            services: components["schemas"]["ReadinessServicesDto"];
            /**
             * @example ready
             * @enum {string}
             */
            status: "ready" | "not_ready";
        };
        ReadinessServicesDto: {
            /**
             * @example healthy
             * @enum {string}
             */
            database: "healthy" | "unhealthy" | "disabled";
            /**
             * @example healthy
             * @enum {string}
             */
            queue: "healthy" | "unhealthy" | "disabled";
        };
        ScaleDeploymentDto: {
            /**
             * @description New number of serving workers; 0 pauses serving. Also accepted as ?replicas=
             * @example 2
             */
            replicas?: number;
        };
        SearchDto: {
            /**
             * @description max or min; default min for losses and errors, max otherwise
             * @enum {string}
             */
            direction?: "max" | "min";
            early_stopping?: components["schemas"]["EarlyStoppingDto"];
            /**
             * @description The epoch metric trials are ranked by, at their last epoch. Default val_accuracy for classifiers (accuracy without a validation split), else val_loss (loss).
             * @example val_accuracy
             */
            metric?: string;
            /**
             * @description Trials unfinished at once (each runs on whichever worker is free). At most HPO_MAX_PARALLELISM.
             * @default 4
             * @example 2
             */
            parallelism: number;
            /**
             * @description Makes the sampled points reproducible; default the request’s seed, else random
             * @example 7
             */
            seed?: number;
            /**
             * @description random or grid; default the DSL’s search_method when it is one of them, else random
             * @enum {string}
             */
            strategy?: "random" | "grid";
            /**
             * @description Trials to run (random: default 10; grid: default and at most the whole grid). At most HPO_MAX_TRIALS.
             * @example 6
             */
            trials?: number;
        };
        SweepCountsDto: {
            cancelled: number;
            completed: number;
            failed: number;
            /** @description Not started: waiting for a slot or on the queue */
            pending: number;
            pruned: number;
            running: number;
            total: number;
        };
        SweepViewDto: {
            /** @description The best completed trial so far */
            best: components["schemas"]["TrialEntryDto"] | null;
            counts: components["schemas"]["SweepCountsDto"];
            /** @enum {string} */
            direction: "max" | "min";
            /**
             * @example {
             *       "min_epochs": 1,
             *       "reduction_factor": 3,
             *       "type": "successive_halving"
             *     }
             */
            early_stopping: Record<string, unknown>;
            /** @description Completed trials best first, then pruned (most epochs first), running, pending, failed, cancelled */
            leaderboard: components["schemas"]["TrialEntryDto"][];
            /** @example val_accuracy */
            metric: string;
            /**
             * Format: uuid
             * @description The best trial’s model, registered when the sweep completes
             */
            model_id: string | null;
            parallelism: number;
            search_space: Record<string, unknown>[];
            /** @enum {string} */
            strategy: "random" | "grid";
        };
        TokenResponseDto: {
            /**
             * @description A JWT to send as "Authorization: Bearer <token>"
             * @example eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIuLi4ifQ.c2lnbmF0dXJl
             */
            access_token: string;
            /**
             * @description Seconds until the token expires
             * @example 3600
             */
            expires_in: number;
            /**
             * @description The key's scopes, implied ones included
             * @example [
             *       "read",
             *       "write",
             *       "predict"
             *     ]
             */
            scopes: string[];
            /**
             * @example bearer
             * @enum {string}
             */
            token_type: "bearer";
        };
        TrainAcceptedDto: {
            /** Format: uuid */
            experiment_id: string;
            /** Format: uuid */
            job_id: string;
            message: string;
            /** @enum {string} */
            status: "pending";
        };
        TrainRequestDto: {
            /** @description Insert a Flatten before a Dense/Output that receives an image tensor (default true) */
            auto_flatten_output?: boolean;
            /**
             * @description pytorch trains with PyTorch (when the worker has it); tensorflow and onnx train with the tfjs engine
             * @example tensorflow
             * @enum {string}
             */
            backend: "tensorflow" | "pytorch" | "onnx";
            /**
             * @description A built-in dataset (GET /datasets) or an uploaded dataset’s id or name
             * @example MNIST
             */
            dataset: string;
            /** @description Model source in the Neural DSL (or give model_id) */
            dsl_code?: string;
            /**
             * @description Groups runs; defaults to the model name
             * @example my_experiment
             */
            experiment_name?: string;
            /**
             * Format: uuid
             * @description Train the DSL of a registered model instead of dsl_code
             */
            model_id?: string;
            /**
             * @description Makes the run reproducible: the same seed, data and backend give the same weights
             * @example 42
             */
            seed?: number;
            training_config?: components["schemas"]["TrainingConfigDto"];
            /** @description Receives signed started/progress/completed/failed/cancelled notifications (see GET /jobs/{id}/webhooks) */
            webhook_url?: string;
        };
        TrainingConfigDto: {
            /** @example 32 */
            batch_size?: number;
            /** @example 10 */
            epochs?: number;
            /**
             * @description Replaces the DSL learning rate and its schedule
             * @example 0.001
             */
            learning_rate?: number;
            /** @example sparse_categorical_crossentropy */
            loss?: string;
            /**
             * @example [
             *       "accuracy"
             *     ]
             */
            metrics?: string[];
            /**
             * @description A DSL optimizer name (Adam, SGD, RMSprop, ...)
             * @example adam
             */
            optimizer?: string;
            /**
             * @description Shuffle every epoch (default true)
             * @example true
             */
            shuffle?: boolean;
            /**
             * @description Train on the first N training samples only
             * @example 5000
             */
            train_samples?: number;
            /**
             * @description Fraction of the training samples held out (the last ones, before shuffling)
             * @example 0.2
             */
            validation_split?: number;
        };
        TrialEntryDto: {
            /** @description Epochs finished */
            epochs: number;
            /** @description {code, detail} */
            error: Record<string, unknown> | null;
            /** Format: uuid */
            experiment_id: string | null;
            /** Format: uuid */
            job_id: string;
            /**
             * @example {
             *       "dense_1.units": 128,
             *       "optimizer.learning_rate": 0.003
             *     }
             */
            params: Record<string, unknown>;
            /** @description Pruned trials: the epoch after which early stopping ended it */
            pruned_at_epoch: number | null;
            /** @enum {string} */
            status: "pending" | "running" | "completed" | "failed" | "cancelled" | "pruned";
            /**
             * @description 0-based place of the trial in the sweep
             * @example 0
             */
            trial: number;
            /** @description The sweep metric at the last finished epoch */
            value: number | null;
            worker_id: string | null;
        };
        WebhookAttemptDto: {
            /** Format: date-time */
            at: string;
            /** @example 1 */
            attempt: number;
            /** @example 12 */
            duration_ms: number;
            error: string | null;
            /** @example 200 */
            status_code: number | null;
        };
        WebhookDeliveryDto: {
            attempt_log: components["schemas"]["WebhookAttemptDto"][];
            attempts: number;
            /** Format: date-time */
            created_at: string;
            /** Format: date-time */
            delivered_at: string | null;
            /**
             * Format: uuid
             * @description Sent as X-Neural-Delivery
             */
            delivery_id: string;
            /** @enum {string} */
            event: "started" | "progress" | "completed" | "failed" | "cancelled" | "trial_finished";
            last_error: string | null;
            last_status_code: number | null;
            max_attempts: number;
            /** Format: date-time */
            next_attempt_at: string | null;
            /** @description The body sent: {job_id, event, status, data, timestamp} */
            payload: Record<string, unknown>;
            /** @enum {string} */
            status: "pending" | "delivered" | "failed";
            url: string;
        };
        WebhookDeliveryListDto: {
            deliveries: components["schemas"]["WebhookDeliveryDto"][];
        };
        WebhookSecretDto: {
            /**
             * @description Deliveries carry X-Neural-Signature: sha256=<hex HMAC-SHA256 of the raw body with this secret>
             * @example whsec_4hQ0…
             */
            webhook_secret: string;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: {
        /** @description `true` when the answer is replayed from an earlier request with the same Idempotency-Key */
        "Idempotent-Replayed": "true";
        /** @description Seconds to wait before retrying */
        "Retry-After": number;
        /** @description Seconds until the expensive budget frees (on a 429 from it; Retry-After says the same) */
        "Retry-After-expensive": number;
        /** @description The accepted schemes */
        "WWW-Authenticate": string;
        /** @description Requests allowed per window */
        "X-RateLimit-Limit": number;
        /** @description Expensive requests (compile, train, predict) allowed to the tenant per window, across all of its keys */
        "X-RateLimit-Limit-expensive": number;
        /** @description Requests left in the current window */
        "X-RateLimit-Remaining": number;
        /** @description Expensive requests left to the tenant in the current window */
        "X-RateLimit-Remaining-expensive": number;
        /** @description Seconds until the window frees */
        "X-RateLimit-Reset": number;
        /** @description Seconds until the expensive window frees */
        "X-RateLimit-Reset-expensive": number;
        /** @description The request's id (the client's own when it sent a plain token) */
        "X-Request-Id": string;
    };
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    SystemController_info: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ApiInfoDto"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    QueueDashboardController_page: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The dashboard page */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "admin" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    AuditController_list: {
        parameters: {
            query?: {
                skip?: unknown;
                limit?: unknown;
                /** @description Only this tenant's events */
                tenant_id?: string;
                /** @description Only this action, e.g. api_key.created, auth.failed, experiment.deleted */
                action?: string;
                /** @description Events at or after this time (RFC 3339) */
                since?: string;
                /** @description Events before this time (RFC 3339) */
                until?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AuditEventListDto"];
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "admin" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request failed validation: one {field, message} per field (code validation_error) */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    AuthController_listKeys: {
        parameters: {
            query?: {
                skip?: unknown;
                limit?: unknown;
                /** @description Administrators: only this tenant's keys (default: every tenant's) */
                tenant_id?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ApiKeyListDto"];
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "read" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request failed validation: one {field, message} per field (code validation_error) */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    AuthController_createKey: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateApiKeyDto"];
            };
        };
        responses: {
            201: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CreatedApiKeyDto"];
                };
            };
            /** @description Malformed JSON body (code malformed_json) */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "admin" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body exceeds the size limit (code payload_too_large) */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request failed validation: one {field, message} per field (code validation_error) */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    AuthController_revokeKey: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                key_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            204: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "write" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    AuthController_token: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TokenResponseDto"];
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "read" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    AuthController_webhookSecret: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookSecretDto"];
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "write" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    AuthController_rotateWebhookSecret: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookSecretDto"];
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "write" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    CompileController_submit: {
        parameters: {
            query?: never;
            header?: {
                /** @description A key of your choice (unique per tenant, e.g. a UUID) naming this request: a retry with the same key and body answers the first success again (same status and body, `Idempotent-Replayed: true`) for IDEMPOTENCY_TTL_HOURS instead of creating a second one. The same key with a different body or route is a 422 (code idempotency_key_reused); while the first request runs, a 409 (code idempotency_key_in_use). Failed requests are not remembered. */
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CompileRequestDto"];
            };
        };
        responses: {
            202: {
                headers: {
                    "Idempotent-Replayed": components["headers"]["Idempotent-Replayed"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Limit-expensive": components["headers"]["X-RateLimit-Limit-expensive"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Remaining-expensive": components["headers"]["X-RateLimit-Remaining-expensive"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-RateLimit-Reset-expensive": components["headers"]["X-RateLimit-Reset-expensive"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CompileAcceptedDto"];
                };
            };
            /** @description Malformed JSON body (code malformed_json) */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "write" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same Idempotency-Key is still running (code idempotency_key_in_use; Retry-After) */
            409: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body exceeds the size limit (code payload_too_large) */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request failed validation: one {field, message} per field (code validation_error) */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key) or the expensive budget (per tenant) is used up (code rate_limited; the detail says which, the -expensive headers describe the latter) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "Retry-After-expensive": components["headers"]["Retry-After-expensive"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Limit-expensive": components["headers"]["X-RateLimit-Limit-expensive"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Remaining-expensive": components["headers"]["X-RateLimit-Remaining-expensive"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-RateLimit-Reset-expensive": components["headers"]["X-RateLimit-Reset-expensive"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    CompileController_sync: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CompileRequestDto"];
            };
        };
        responses: {
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Limit-expensive": components["headers"]["X-RateLimit-Limit-expensive"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Remaining-expensive": components["headers"]["X-RateLimit-Remaining-expensive"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-RateLimit-Reset-expensive": components["headers"]["X-RateLimit-Reset-expensive"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CompileResultDto"];
                };
            };
            /** @description Malformed JSON body (code malformed_json) */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "write" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body exceeds the size limit (code payload_too_large) */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description DSL errors (line, column, message, hint) or an invalid body */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key) or the expensive budget (per tenant) is used up (code rate_limited; the detail says which, the -expensive headers describe the latter) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "Retry-After-expensive": components["headers"]["Retry-After-expensive"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Limit-expensive": components["headers"]["X-RateLimit-Limit-expensive"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Remaining-expensive": components["headers"]["X-RateLimit-Remaining-expensive"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-RateLimit-Reset-expensive": components["headers"]["X-RateLimit-Reset-expensive"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    DatasetsController_list: {
        parameters: {
            query?: {
                skip?: unknown;
                limit?: unknown;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DatasetListDto"];
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "read" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request failed validation: one {field, message} per field (code validation_error) */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    DatasetsController_upload: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "multipart/form-data": components["schemas"]["DatasetUploadDto"];
            };
        };
        responses: {
            201: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DatasetDto"];
                };
            };
            /** @description Malformed JSON body (code malformed_json) */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "write" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The tenant already has a dataset of that name */
            409: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The file exceeds DATASET_MAX_UPLOAD_BYTES */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Not multipart/form-data */
            415: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A form field is missing or the file cannot be parsed (line/column or sample index in errors) */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    DatasetsController_get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                dataset_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DatasetDto"];
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "read" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    DatasetsController_delete: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                dataset_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            204: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "write" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    DeploymentsController_list: {
        parameters: {
            query?: {
                skip?: unknown;
                limit?: unknown;
                status?: "deploying" | "deployed" | "paused" | "failed";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DeploymentListDto"];
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "read" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request failed validation: one {field, message} per field (code validation_error) */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    DeploymentsController_create: {
        parameters: {
            query?: never;
            header?: {
                /** @description A key of your choice (unique per tenant, e.g. a UUID) naming this request: a retry with the same key and body answers the first success again (same status and body, `Idempotent-Replayed: true`) for IDEMPOTENCY_TTL_HOURS instead of creating a second one. The same key with a different body or route is a 422 (code idempotency_key_reused); while the first request runs, a 409 (code idempotency_key_in_use). Failed requests are not remembered. */
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateDeploymentDto"];
            };
        };
        responses: {
            201: {
                headers: {
                    "Idempotent-Replayed": components["headers"]["Idempotent-Replayed"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DeploymentDto"];
                };
            };
            /** @description Malformed JSON body (code malformed_json) */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "write" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /**
             * @description A request with the same Idempotency-Key is still running (code idempotency_key_in_use; Retry-After)
             *
             *     The tenant already has a deployment of that name
             */
            409: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body exceeds the size limit (code payload_too_large) */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such model, or a model that was never trained */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    DeploymentsController_get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                deployment_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DeploymentDto"];
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "read" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    DeploymentsController_delete: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                deployment_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            204: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "write" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    DeploymentsController_manifests: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                deployment_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Multi-document YAML */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/yaml": string;
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "read" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/yaml": components["schemas"]["Problem"];
                };
            };
            /** @description Not deployed (yet) */
            409: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/yaml": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    DeploymentsController_model: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                deployment_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The .onnx file */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "read" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/octet-stream": components["schemas"]["Problem"];
                };
            };
            /** @description Not deployed (yet) */
            409: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/octet-stream": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    DeploymentsController_predict: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                deployment_id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["PredictRequestDto"];
                "application/octet-stream": components["schemas"]["PredictRequestDto"];
            };
        };
        responses: {
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Limit-expensive": components["headers"]["X-RateLimit-Limit-expensive"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Remaining-expensive": components["headers"]["X-RateLimit-Remaining-expensive"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-RateLimit-Reset-expensive": components["headers"]["X-RateLimit-Reset-expensive"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PredictResponseDto"];
                };
            };
            /** @description Malformed JSON body (code malformed_json) */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "predict" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The deployment failed */
            409: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body exceeds the size limit (code payload_too_large) */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Instances of the wrong shape, not numbers, or too many */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key) or the expensive budget (per tenant) is used up (code rate_limited; the detail says which, the -expensive headers describe the latter) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "Retry-After-expensive": components["headers"]["Retry-After-expensive"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Limit-expensive": components["headers"]["X-RateLimit-Limit-expensive"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Remaining-expensive": components["headers"]["X-RateLimit-Remaining-expensive"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-RateLimit-Reset-expensive": components["headers"]["X-RateLimit-Reset-expensive"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Still deploying, scaled to 0, or at capacity (Retry-After) */
            503: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    DeploymentsController_scale: {
        parameters: {
            query?: {
                /** @description As in the seed: POST /deployments/{id}/scale?replicas=N */
                replicas?: number;
            };
            header?: never;
            path: {
                deployment_id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ScaleDeploymentDto"];
            };
        };
        responses: {
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DeploymentDto"];
                };
            };
            /** @description Malformed JSON body (code malformed_json) */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "write" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The deployment is still deploying, or failed */
            409: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body exceeds the size limit (code payload_too_large) */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request failed validation: one {field, message} per field (code validation_error) */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    ExperimentsController_list: {
        parameters: {
            query?: {
                skip?: unknown;
                limit?: unknown;
                /** @description Exact experiment name */
                name?: string;
                status?: "pending" | "running" | "completed" | "failed" | "cancelled" | "pruned";
                /** @description Same as status (the seed’s name) */
                status_filter?: "pending" | "running" | "completed" | "failed" | "cancelled" | "pruned";
                /** @description created_at (default) or a final metric; experiments without it come last */
                sort_by?: string;
                order?: "asc" | "desc";
                /** @description Only the trials of this sweep (its job id) */
                sweep_id?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ExperimentListDto"];
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "read" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request failed validation: one {field, message} per field (code validation_error) */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    ExperimentsController_get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                experiment_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ExperimentDto"];
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "read" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    ExperimentsController_delete: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                experiment_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            204: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "write" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    ExperimentsController_artifact: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                experiment_id: string;
                artifact_name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The file, with a Content-Disposition filename */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "read" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    ExperimentsController_compare: {
        parameters: {
            query?: {
                /** @description Experiment ids to compare with (repeat the parameter) */
                compare_with?: string[];
                /** @description Experiment ids to compare with, comma-separated */
                ids?: string;
                /** @description Compare with every trial of this sweep (its job id) */
                sweep_id?: string;
            };
            header?: never;
            path: {
                experiment_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CompareDto"];
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "read" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request failed validation: one {field, message} per field (code validation_error) */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    SystemController_check: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HealthReportDto"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A required service is down */
            503: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HealthReportDto"];
                };
            };
        };
    };
    SystemController_live: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LivenessReportDto"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    SystemController_ready: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ReadinessReportDto"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The database or the queue is down */
            503: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ReadinessReportDto"];
                };
            };
        };
    };
    JobsController_list: {
        parameters: {
            query?: {
                skip?: unknown;
                limit?: unknown;
                status?: "pending" | "running" | "completed" | "failed" | "cancelled" | "pruned";
                type?: "compile" | "train" | "deploy" | "hpo";
                /** @description Only the trials of this sweep */
                sweep_id?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JobListDto"];
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "read" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request failed validation: one {field, message} per field (code validation_error) */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    JobsController_hpo: {
        parameters: {
            query?: never;
            header?: {
                /** @description A key of your choice (unique per tenant, e.g. a UUID) naming this request: a retry with the same key and body answers the first success again (same status and body, `Idempotent-Replayed: true`) for IDEMPOTENCY_TTL_HOURS instead of creating a second one. The same key with a different body or route is a 422 (code idempotency_key_reused); while the first request runs, a 409 (code idempotency_key_in_use). Failed requests are not remembered. */
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["HpoRequestDto"];
            };
        };
        responses: {
            202: {
                headers: {
                    "Idempotent-Replayed": components["headers"]["Idempotent-Replayed"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Limit-expensive": components["headers"]["X-RateLimit-Limit-expensive"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Remaining-expensive": components["headers"]["X-RateLimit-Remaining-expensive"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-RateLimit-Reset-expensive": components["headers"]["X-RateLimit-Reset-expensive"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HpoAcceptedDto"];
                };
            };
            /** @description Malformed JSON body (code malformed_json) */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "write" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same Idempotency-Key is still running (code idempotency_key_in_use; Retry-After) */
            409: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body exceeds the size limit (code payload_too_large) */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No HPO(...) site to search, a grid over continuous ranges, a metric the trials do not report, a limit exceeded, or whatever POST /jobs/train refuses */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key) or the expensive budget (per tenant) is used up (code rate_limited; the detail says which, the -expensive headers describe the latter) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "Retry-After-expensive": components["headers"]["Retry-After-expensive"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Limit-expensive": components["headers"]["X-RateLimit-Limit-expensive"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Remaining-expensive": components["headers"]["X-RateLimit-Remaining-expensive"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-RateLimit-Reset-expensive": components["headers"]["X-RateLimit-Reset-expensive"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    JobsController_train: {
        parameters: {
            query?: never;
            header?: {
                /** @description A key of your choice (unique per tenant, e.g. a UUID) naming this request: a retry with the same key and body answers the first success again (same status and body, `Idempotent-Replayed: true`) for IDEMPOTENCY_TTL_HOURS instead of creating a second one. The same key with a different body or route is a 422 (code idempotency_key_reused); while the first request runs, a 409 (code idempotency_key_in_use). Failed requests are not remembered. */
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["TrainRequestDto"];
            };
        };
        responses: {
            202: {
                headers: {
                    "Idempotent-Replayed": components["headers"]["Idempotent-Replayed"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Limit-expensive": components["headers"]["X-RateLimit-Limit-expensive"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Remaining-expensive": components["headers"]["X-RateLimit-Remaining-expensive"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-RateLimit-Reset-expensive": components["headers"]["X-RateLimit-Reset-expensive"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TrainAcceptedDto"];
                };
            };
            /** @description Malformed JSON body (code malformed_json) */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "write" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same Idempotency-Key is still running (code idempotency_key_in_use; Retry-After) */
            409: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body exceeds the size limit (code payload_too_large) */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Invalid DSL (line/column), a layer or setting the engine cannot train, an unknown or mismatched dataset, PyTorch unavailable, or a refused webhook URL */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key) or the expensive budget (per tenant) is used up (code rate_limited; the detail says which, the -expensive headers describe the latter) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "Retry-After-expensive": components["headers"]["Retry-After-expensive"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Limit-expensive": components["headers"]["X-RateLimit-Limit-expensive"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Remaining-expensive": components["headers"]["X-RateLimit-Remaining-expensive"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-RateLimit-Reset-expensive": components["headers"]["X-RateLimit-Reset-expensive"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    JobsController_get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                job_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JobDto"];
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "read" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    JobsController_cancel: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                job_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            202: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JobDto"];
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "write" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            409: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    JobsController_events: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                job_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A stream of `event: job|progress|epoch` messages whose `data` is JSON; it ends after the job finishes */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "read" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    JobsController_webhooks: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                job_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookDeliveryListDto"];
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "read" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    MetricsController_scrape: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The metrics in the Prometheus text format */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": string;
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "admin" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    ModelsController_list: {
        parameters: {
            query?: {
                skip?: unknown;
                limit?: unknown;
                backend?: "tensorflow" | "pytorch" | "onnx";
                /** @description Exact model name */
                name?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ModelListDto"];
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "read" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request failed validation: one {field, message} per field (code validation_error) */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    ModelsController_get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                model_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ModelDto"];
                };
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "read" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    ModelsController_delete: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                model_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            204: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "write" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    ModelsController_download: {
        parameters: {
            query?: {
                /** @description Default: the model’s own file (.py for tensorflow/pytorch, .onnx for onnx). Trained models also offer onnx (trained weights), tfjs (model.json + weights.bin zipped), tensorflow and pytorch code, and pytorch_weights for PyTorch-trained ones. */
                format?: "code" | "onnx" | "tfjs" | "tensorflow" | "pytorch" | "pytorch_weights";
            };
            header?: never;
            path: {
                model_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The file, with a Content-Disposition filename */
            200: {
                headers: {
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Missing or invalid credentials (code unauthorized) */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key lacks the "read" scope this operation needs (code insufficient_scope) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/octet-stream": components["schemas"]["Problem"];
                    "application/zip": components["schemas"]["Problem"];
                    "text/x-python": components["schemas"]["Problem"];
                };
            };
            /** @description The request failed validation: one {field, message} per field (code validation_error) */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request budget (per key; per address when anonymous) is used up (code rate_limited) */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-RateLimit-Limit": components["headers"]["X-RateLimit-Limit"];
                    "X-RateLimit-Remaining": components["headers"]["X-RateLimit-Remaining"];
                    "X-RateLimit-Reset": components["headers"]["X-RateLimit-Reset"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unexpected failure: only an error id is shown (code internal_error) */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
}
