import { Controller, Get } from '@nestjs/common';
import { IdParam } from '../../common/http/dto-validators';
import { RateLimit } from '../../common/http/rate-limit';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { UserProfileView, UsersService } from './users.service';

@ApiTags('users')
@Controller('users')
@RateLimit('public')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get(':userId')
  @ApiOperation({ summary: 'A user profile: balance, status, purchase limit and inventory' })
  getProfile(@IdParam('userId') userId: string): Promise<UserProfileView> {
    return this.users.getProfile(userId);
  }
}
