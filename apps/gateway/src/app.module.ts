import { Module } from '@nestjs/common';
import { SystemController } from './system/system.controller';

@Module({ controllers: [SystemController] })
export class AppModule {}
