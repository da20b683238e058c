import { ApiProperty } from '@nestjs/swagger';

export class WebhookSecretDto {
  @ApiProperty({
    example: 'whsec_4hQ0…',
    description: 'Deliveries carry X-Neural-Signature: sha256=<hex HMAC-SHA256 of the raw body with this secret>',
  })
  webhook_secret!: string;
}
