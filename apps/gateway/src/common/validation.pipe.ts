import { type ArgumentMetadata, ValidationPipe, type ValidationError } from '@nestjs/common';
import { DomainError, type FieldError } from './domain-error';

/**
 * The global pipe: DTOs are validated and transformed (explicit `@Type` conversions only), unknown properties are
 * refused, and a failure is a 422 with one `{field, message}` per field, the field as a path (`training_config.epochs`,
 * `layers[2].units`).
 */
export function createValidationPipe(): ValidationPipe {
  return new BodyValidationPipe({
    transform: true,
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    stopAtFirstError: false,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => DomainError.validation(flattenValidationErrors(errors)),
  });
}

/** Deeper bodies are refused before class-transformer, which recurses per level (3000 levels overflowed the stack: a 500). */
export const MAX_BODY_DEPTH = 32;
/** Keys class-transformer silently drops (so forbidNonWhitelisted never sees them); refused like any unknown property. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Also refuses a JSON array where a DTO (an object) is expected, which class-validator would read as an object, a
 * body nested deeper than MAX_BODY_DEPTH, and prototype keys at any depth. An optional field sent as null is absent,
 * as @IsOptional validated it (services read `undefined` as not given; a null reached `.trim()` and was a 500).
 */
class BodyValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type !== 'body' || !metadata.metatype || metadata.metatype === Array || !this.toValidate(metadata)) return super.transform(value, metadata);
    if (Array.isArray(value)) throw DomainError.validation([{ field: '(body)', message: 'the body must be a JSON object' }]);
    const problem = shapeProblem(value);
    if (problem) throw DomainError.validation([problem]);
    return dropNulls(await super.transform(value, metadata));
  }
}

/** Removes null-valued properties of a validated DTO and of the DTOs nested in it (free-form maps are left as sent). */
function dropNulls<T>(dto: T): T {
  if (!dto || typeof dto !== 'object') return dto;
  for (const [key, v] of Object.entries(dto)) {
    if (v === null) delete (dto as Record<string, unknown>)[key];
    else if (Array.isArray(v)) v.forEach((item) => isDto(item) && dropNulls(item));
    else if (isDto(v)) dropNulls(v);
  }
  return dto;
}

const isDto = (v: unknown): v is object => !!v && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) !== Object.prototype && Object.getPrototypeOf(v) !== null;

/** The first prototype key or over-deep member of a parsed JSON body, walked without recursion. */
export function shapeProblem(body: unknown): FieldError | undefined {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value: body, path: '', depth: 0 }];
  while (stack.length) {
    const { value, path, depth } = stack.pop()!;
    if (!value || typeof value !== 'object') continue;
    if (depth >= MAX_BODY_DEPTH) return { field: path || '(body)', message: `the body is nested more than ${MAX_BODY_DEPTH} levels deep` };
    for (const key of Object.keys(value)) {
      const child = Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
      if (!Array.isArray(value) && PROTOTYPE_KEYS.has(key)) return { field: child, message: `property ${key} should not exist` };
      stack.push({ value: (value as Record<string, unknown>)[key], path: child, depth: depth + 1 });
    }
  }
  return undefined;
}

/** One entry per failing field, in the order class-validator reported them. */
export function flattenValidationErrors(errors: ValidationError[], parent = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const error of errors) {
    const field = /^\d+$/.test(error.property) ? `${parent}[${error.property}]` : parent ? `${parent}.${error.property}` : error.property;
    const messages = Object.values(error.constraints ?? {});
    if (messages.length) out.push({ field: field || '(body)', message: messages.join('; ') });
    if (error.children?.length) out.push(...flattenValidationErrors(error.children, field));
  }
  return out;
}
