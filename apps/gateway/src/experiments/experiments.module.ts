import { Module } from '@nestjs/common';
import { JobsModule } from '../jobs/jobs.module';
import { ExperimentsController } from './experiments.controller';
import { ExperimentsService } from './experiments.service';

@Module({ imports: [JobsModule], controllers: [ExperimentsController], providers: [ExperimentsService] })
export class ExperimentsModule {}
