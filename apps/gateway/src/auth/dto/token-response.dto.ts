import { ApiProperty } from '@nestjs/swagger';
import type { IssuedToken } from '../auth.service';

/** Answer of `POST /auth/token`. */
export class TokenResponseDto implements IssuedToken {
  @ApiProperty({ description: 'A JWT to send as "Authorization: Bearer <token>"', example: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIuLi4ifQ.c2lnbmF0dXJl' })
  access_token!: string;

  @ApiProperty({ enum: ['bearer'], example: 'bearer' })
  token_type!: 'bearer';

  @ApiProperty({ description: 'Seconds until the token expires', example: 3600 })
  expires_in!: number;

  @ApiProperty({ description: "The key's scopes, implied ones included", example: ['read', 'write', 'predict'] })
  scopes!: string[];
}
