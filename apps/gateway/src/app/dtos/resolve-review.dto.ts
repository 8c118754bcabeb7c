import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';
import { NoControlCharacters } from './text-rules';

export class ResolveReviewDto {
  @ApiProperty({ example: 'terminated i-0abc by hand in the console' })
  @IsString()
  @Length(1, 2000)
  @NoControlCharacters({ allowLines: true })
  comment!: string;
}
