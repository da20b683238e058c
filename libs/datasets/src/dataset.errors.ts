/** Base of the dataset library's typed errors; `code` is the machine-readable code served to clients. */
export abstract class DatasetError extends Error {
  abstract readonly code: string;
}

/** No built-in dataset has that name; the message lists the names that exist. */
export class UnknownDatasetError extends DatasetError {
  readonly code = 'unknown_dataset';

  constructor(
    readonly requested: string,
    readonly available: string[],
  ) {
    super(`unknown dataset ${JSON.stringify(requested)}; the built-in datasets are ${available.join(', ')}`);
    this.name = 'UnknownDatasetError';
  }
}

/** The dataset exists but its files are not installed on this machine (e.g. Debian's dataset-fashion-mnist). */
export class DatasetUnavailableError extends DatasetError {
  readonly code = 'dataset_unavailable';

  constructor(
    readonly dataset: string,
    reason: string,
  ) {
    super(`${dataset} is not available here: ${reason}`);
    this.name = 'DatasetUnavailableError';
  }
}

/** A data file on disk (IDX or NDS) is truncated, of another kind, or otherwise not what it should be. */
export class DatasetFileError extends DatasetError {
  readonly code = 'dataset_file_invalid';

  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'DatasetFileError';
  }
}

/** Where in an upload a problem is: a CSV line and column, or a JSON sample index. */
export interface DatasetFormatLocation {
  line?: number;
  column?: string;
  index?: number;
}

/** An uploaded dataset cannot be used as it is; the message says what to change. */
export class DatasetFormatError extends DatasetError {
  readonly code = 'invalid_dataset';

  constructor(
    message: string,
    readonly location: DatasetFormatLocation = {},
  ) {
    super(message);
    this.name = 'DatasetFormatError';
  }
}
