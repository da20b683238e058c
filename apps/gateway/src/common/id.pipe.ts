import { Injectable, type PipeTransform } from '@nestjs/common';
import { DomainError } from './domain-error';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Route ids are opaque UUIDs: anything else names nothing that exists, so it is a 404 like an unknown id. */
@Injectable()
export class IdPipe implements PipeTransform<string, string> {
  constructor(private readonly resource: string) {}

  transform(value: string): string {
    if (!UUID.test(value)) throw DomainError.notFound(this.resource, value);
    return value.toLowerCase();
  }
}
