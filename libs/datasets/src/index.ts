export * from './types';
export * from './dataset.errors';
export {
  DEFAULT_FASHION_MNIST_DIR,
  findBuiltinDataset,
  listBuiltinDatasets,
  loadBuiltinDataset,
  type DatasetPaths,
} from './builtin-datasets';
export {
  DEFAULT_MAX_CLASSES,
  ingestDataset,
  loadIngestedDataset,
  type IngestedDataset,
  type IngestLimits,
  type IngestOptions,
  type UploadFormat,
} from './ingest';
export { NDS_MAGIC, NDS_VERSION, readNds, writeNds, type NdsContent, type NdsHeader } from './nds';
export { checkLabelFit, checkSampleFit, type LabelFit, type SampleFit } from './fit';
export { readIdxImages, readIdxLabels, type IdxImages, type IdxImageExpectation } from './idx';
export { splitIndices, type SplitIndices } from './split';
