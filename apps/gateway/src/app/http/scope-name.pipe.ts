import { ArgumentMetadata, BadRequestException, Injectable, PipeTransform } from '@nestjs/common';
import { hasControlCharacters } from '../dtos/text-rules';

/** An owner's subject or a team's name in a path: 1 to 200 characters, no control characters. */
@Injectable()
export class ScopeNamePipe implements PipeTransform<string, string> {
  transform(value: string, metadata: ArgumentMetadata): string {
    if (value.length === 0 || value.length > 200 || hasControlCharacters(value)) {
      throw new BadRequestException(`${metadata.data ?? 'name'} must be 1 to 200 characters without control characters`);
    }
    return value;
  }
}
