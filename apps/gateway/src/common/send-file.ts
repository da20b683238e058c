import type { Response } from 'express';

/** A stored file on its way to a client. */
export interface OutgoingFile {
  stream: NodeJS.ReadableStream;
  filename: string;
  contentType: string;
  sizeBytes: number;
}

/** Streams a download: 200, `Content-Disposition` with the filename, its type (UTF-8 for text) and length. */
export function sendFile(res: Response, file: OutgoingFile): void {
  res.status(200);
  // attachment() guesses a type from the extension: set ours after it.
  res.attachment(file.filename);
  res.setHeader('Content-Type', /^text\/|\/json$/.test(file.contentType) ? `${file.contentType}; charset=utf-8` : file.contentType);
  res.setHeader('Content-Length', String(file.sizeBytes));
  file.stream.on('error', (err: Error) => res.destroy(err));
  file.stream.pipe(res);
}
