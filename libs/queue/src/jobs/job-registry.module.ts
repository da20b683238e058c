import { Module } from '@nestjs/common';
import { JobHandlerRegistry } from './job-handler.registry';

/** The one JobHandlerRegistry of a process, shared by every module that registers handlers. */
@Module({ providers: [JobHandlerRegistry], exports: [JobHandlerRegistry] })
export class JobRegistryModule {}
