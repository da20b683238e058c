/** The sweep of test/hpo.e2e-spec.ts and `npm run bench:hpo`. */

/** Two HPO sites, six grid points; a learning rate of 1e-4 learns far less in one epoch than 1e-2, so it gets pruned. */
export const SWEEP_MODEL = `network Sweep {
  input: (28, 28, 1)
  layers:
    Flatten()
    Dense(HPO(choice(16, 64)), activation="relu")
    Output(10, "softmax")
  loss: "sparse_categorical_crossentropy"
  optimizer: Adam(learning_rate=HPO(choice(0.0001, 0.001, 0.01)))
  train { epochs: 4, batch_size: 32, validation_split: 0.2 }
}`;
