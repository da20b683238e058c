import { type AppConfig, InjectAppConfig } from '@app/config';
import { DatasetFormatError, findBuiltinDataset, ingestDataset, type DatasetInfo } from '@app/datasets';
import { DatasetNameTakenError, DatasetsRepository, type DatasetEntity } from '@app/persistence';
import { ArtifactStore, ArtifactTooLargeError, DATASET_STORE } from '@app/storage';
import { Inject, Injectable } from '@nestjs/common';
import busboy from 'busboy';
import { randomUUID } from 'crypto';
import type { Request } from 'express';
import { DomainError } from '../common/domain-error';
import { iso } from '../common/iso';
import { DatasetCatalog, uploadInfo } from './dataset-catalog.service';
import type { DatasetDto, DatasetListDto, DatasetListQueryDto } from './dto/dataset.dto';

const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,99}$/;
const FIELDS = new Set(['name', 'format', 'label_column', 'test_split']);

interface UploadForm {
  fields: Record<string, string>;
  rawKey: string | null;
  filename: string | null;
  size: number;
}

@Injectable()
export class DatasetsService {
  constructor(
    @InjectAppConfig() private readonly config: AppConfig,
    private readonly datasets: DatasetsRepository,
    private readonly catalog: DatasetCatalog,
    @Inject(DATASET_STORE) private readonly store: ArtifactStore,
  ) {}

  async list(tenantId: string, q: DatasetListQueryDto): Promise<DatasetListDto> {
    const builtins = this.catalog.builtins().map((d) => view(d));
    const uploadSkip = Math.max(0, q.skip - builtins.length);
    const shownBuiltins = builtins.slice(q.skip, q.skip + q.limit);
    const page = await this.datasets.list(tenantId, { skip: uploadSkip, limit: Math.max(1, q.limit - shownBuiltins.length) });
    const uploads = shownBuiltins.length >= q.limit ? [] : page.items.map((d) => view(uploadInfo(d), d));
    return { datasets: [...shownBuiltins, ...uploads], total: builtins.length + page.total, skip: q.skip, limit: q.limit };
  }

  async get(tenantId: string, id: string): Promise<DatasetDto> {
    const d = await this.datasets.findForTenant(tenantId, id);
    if (!d) throw DomainError.notFound('dataset', id);
    return view(uploadInfo(d), d);
  }

  async delete(tenantId: string, id: string): Promise<void> {
    const removed = await this.datasets.delete(tenantId, id);
    if (!removed) throw DomainError.notFound('dataset', id);
    await Promise.all([this.store.delete(removed.rawKey), this.store.delete(removed.dataKey)]);
  }

  /**
   * Streams a multipart upload's file to the dataset store (never whole in memory, at most DATASET_MAX_UPLOAD_BYTES),
   * parses it into the training format and registers it. Nothing is kept of an upload that fails.
   */
  async upload(tenantId: string, req: Request): Promise<DatasetDto> {
    if (!/^multipart\/form-data/i.test(req.headers['content-type'] ?? '')) {
      throw new DomainError('unsupported_media_type', 415, 'Unsupported Media Type', 'Send the dataset as multipart/form-data with a `file` part and a `name` field (curl -F file=@data.csv -F name=my_data).');
    }
    const id = randomUUID();
    const form = await this.receive(tenantId, id, req);
    try {
      return await this.register(tenantId, id, form);
    } catch (err) {
      await Promise.all([form.rawKey && this.store.delete(form.rawKey), this.store.delete(dataKey(tenantId, id))].map((p) => Promise.resolve(p).catch(() => undefined)));
      throw err;
    }
  }

  private async register(tenantId: string, id: string, form: UploadForm): Promise<DatasetDto> {
    const { fields } = form;
    const errors: Array<{ field: string; message: string }> = [];
    const name = fields.name ?? '';
    if (!NAME.test(name)) errors.push({ field: 'name', message: 'name is required: 1 to 100 letters, digits, _, . or -, starting with a letter' });
    else if (findBuiltinDataset(name)) errors.push({ field: 'name', message: `${name} is the name of a built-in dataset; choose another` });
    const format = (fields.format ?? /\.(csv|json)$/i.exec(form.filename ?? '')?.[1] ?? '').toLowerCase();
    if (format !== 'csv' && format !== 'json') errors.push({ field: 'format', message: 'format must be csv or json (or name the file *.csv / *.json)' });
    const testSplit = fields.test_split === undefined ? 0 : Number(fields.test_split);
    if (!Number.isFinite(testSplit) || testSplit < 0 || testSplit >= 1) errors.push({ field: 'test_split', message: 'test_split must be a number with 0 <= test_split < 1' });
    if (fields.label_column !== undefined && !/^.{1,200}$/.test(fields.label_column)) errors.push({ field: 'label_column', message: 'label_column must be a column name of at most 200 characters' });
    if (!form.rawKey) errors.push({ field: 'file', message: 'a file part is required' });
    if (errors.length) throw DomainError.validation(errors);
    if (await this.datasets.findByIdOrName(tenantId, name)) throw DomainError.conflict(`A dataset named ${JSON.stringify(name)} already exists; delete it or choose another name.`);

    const key = dataKey(tenantId, id);
    let info: DatasetInfo;
    try {
      const ingested = await ingestDataset(this.store.localPath(form.rawKey!)!, format as 'csv' | 'json', {
        name,
        outputPath: this.store.localPath(key)!,
        labelColumn: fields.label_column,
        testSplit,
        limits: { maxSamples: this.config.datasets.maxSamples, maxFeatures: this.config.datasets.maxFeatures },
      });
      info = ingested.info;
    } catch (err) {
      if (err instanceof DatasetFormatError) {
        throw new DomainError('dataset_format_error', 422, 'Invalid dataset', `The ${format.toUpperCase()} file cannot be used: ${err.message}`, [{ field: 'file', message: err.message, ...err.location }]);
      }
      throw err;
    }
    let row: DatasetEntity;
    try {
      row = await this.datasets.create({
        id,
        tenantId,
        name,
        format: format as 'csv' | 'json',
        task: info.task,
        sampleShape: info.sampleShape,
        labelShape: info.labelShape,
        numClasses: info.numClasses,
        classNames: info.classNames ?? null,
        trainSamples: info.trainSamples,
        testSamples: info.testSamples,
        sizeBytes: form.size,
        rawKey: form.rawKey!,
        dataKey: key,
      });
    } catch (err) {
      if (err instanceof DatasetNameTakenError) throw DomainError.conflict(`A dataset named ${JSON.stringify(name)} already exists; delete it or choose another name.`);
      throw err;
    }
    return view(uploadInfo(row), row);
  }

  /** Reads the multipart stream: small fields in memory, the one file part straight into the store. */
  private async receive(tenantId: string, id: string, req: Request): Promise<UploadForm> {
    const form: UploadForm = { fields: {}, rawKey: null, filename: null, size: 0 };
    try {
      await this.parseForm(tenantId, id, req, form);
      return form;
    } catch (err) {
      if (form.rawKey) await this.store.delete(form.rawKey).catch(() => undefined);
      throw err;
    }
  }

  private parseForm(tenantId: string, id: string, req: Request, form: UploadForm): Promise<void> {
    const max = this.config.datasets.maxUploadBytes;
    return new Promise<void>((resolve, reject) => {
      let parser: busboy.Busboy;
      try {
        parser = busboy({ headers: req.headers, limits: { files: 1, fields: 10, fieldSize: 1024, parts: 12 } });
      } catch (err) {
        return reject(DomainError.badRequest(`The multipart body cannot be read: ${(err as Error).message}`));
      }
      let file: Promise<void> = Promise.resolve();
      let failed = false;
      const fail = (err: Error) => {
        if (failed) return;
        failed = true;
        req.unpipe(parser);
        req.resume();
        void file.finally(() => reject(err));
      };
      parser.on('field', (name, value, info) => {
        if (!FIELDS.has(name)) return fail(DomainError.validation([{ field: name, message: `unknown field; the form takes file, ${[...FIELDS].join(', ')}` }]));
        if (info.valueTruncated) return fail(DomainError.validation([{ field: name, message: 'the value is too long' }]));
        form.fields[name] = value;
      });
      parser.on('file', (name, stream, info) => {
        if (name !== 'file' || form.rawKey) {
          stream.resume();
          return fail(DomainError.validation([{ field: name, message: 'send exactly one file, in the part named file' }]));
        }
        const ext = /\.(csv|json)$/i.exec(info.filename ?? '')?.[1]?.toLowerCase() ?? 'data';
        form.rawKey = `${tenantId}/${id}/raw.${ext}`;
        form.filename = info.filename ?? null;
        file = this.store.putStream(form.rawKey, stream, { maxBytes: max }).then(
          ({ size }) => {
            form.size = size;
          },
          (err: Error) => {
            stream.resume();
            fail(err instanceof ArtifactTooLargeError ? new DomainError('payload_too_large', 413, 'Payload Too Large', `The dataset exceeds the upload limit of ${max} bytes (DATASET_MAX_UPLOAD_BYTES).`) : err);
          },
        );
      });
      parser.on('partsLimit', () => fail(DomainError.badRequest('The form has too many parts.')));
      parser.on('filesLimit', () => fail(DomainError.validation([{ field: 'file', message: 'send exactly one file' }])));
      parser.on('error', (err: Error) => fail(DomainError.badRequest(`The multipart body cannot be read: ${err.message}`)));
      parser.on('close', () => {
        void file.then(() => {
          if (!failed) resolve();
        });
      });
      req.on('aborted', () => fail(DomainError.badRequest('The upload was interrupted.')));
      req.pipe(parser);
    });
  }
}

function dataKey(tenantId: string, id: string): string {
  return `${tenantId}/${id}/data.nds`;
}

function view(info: DatasetInfo, row?: DatasetEntity): DatasetDto {
  return {
    dataset_id: row?.id ?? null,
    name: info.name,
    kind: info.kind,
    task: info.task,
    sample_shape: info.sampleShape,
    label_shape: info.labelShape,
    num_classes: info.numClasses,
    class_names: info.classNames ?? null,
    train_samples: info.trainSamples,
    test_samples: info.testSamples,
    available: info.available,
    unavailable_reason: info.available ? null : (info.unavailableReason ?? null),
    description: info.description,
    source: info.source,
    format: row?.format ?? null,
    size_bytes: row?.sizeBytes ?? null,
    created_at: iso(row?.createdAt),
  };
}
