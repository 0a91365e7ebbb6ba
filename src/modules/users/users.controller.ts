import { Controller, Get } from '@nestjs/common';
import { IdParam } from '../../common/http/dto-validators';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { UserProfileView, UsersService } from './users.service';

@ApiTags('users')
@Controller('users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get(':userId')
  @ApiOperation({ summary: 'A user profile: balance, status, purchase limit and inventory' })
  getProfile(@IdParam('userId') userId: string): Promise<UserProfileView> {
    return this.users.getProfile(userId);
  }
}
