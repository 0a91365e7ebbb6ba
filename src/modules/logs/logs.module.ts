import { Module } from '@nestjs/common';
import { LogsController } from './logs.controller';
import { TransactionLogsRepository } from './transaction-logs.repository';
import { TransactionLogsService } from './transaction-logs.service';

@Module({
  controllers: [LogsController],
  providers: [TransactionLogsRepository, TransactionLogsService],
  exports: [TransactionLogsService],
})
export class LogsModule {}
