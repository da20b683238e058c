import { CompileCoreModule, WebhooksModule } from '@app/queue';
import { Module } from '@nestjs/common';
import { DatasetsModule } from '../datasets/datasets.module';
import { JobsController } from './jobs.controller';
import { JobsService } from './jobs.service';
import { SweepService } from './sweep.service';
import { TrainService } from './train.service';

@Module({ imports: [CompileCoreModule, WebhooksModule, DatasetsModule], controllers: [JobsController], providers: [JobsService, TrainService, SweepService], exports: [JobsService] })
export class JobsModule {}
