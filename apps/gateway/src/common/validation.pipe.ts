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

/** Also refuses a JSON array where a DTO (an object) is expected, which class-validator would read as an object. */
class BodyValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && Array.isArray(value) && metadata.metatype && metadata.metatype !== Array && this.toValidate(metadata)) {
      throw DomainError.validation([{ field: '(body)', message: 'the body must be a JSON object' }]);
    }
    return super.transform(value, metadata);
  }
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
