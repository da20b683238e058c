import { Module } from '@nestjs/common';
import { DatasetCatalog } from './dataset-catalog.service';
import { DatasetsController } from './datasets.controller';
import { DatasetsService } from './datasets.service';

@Module({ controllers: [DatasetsController], providers: [DatasetsService, DatasetCatalog], exports: [DatasetCatalog] })
export class DatasetsModule {}
