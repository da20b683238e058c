import { CompileCoreModule } from '@app/queue';
import { Module } from '@nestjs/common';
import { CompileController } from './compile.controller';

@Module({ imports: [CompileCoreModule], controllers: [CompileController] })
export class CompileModule {}
