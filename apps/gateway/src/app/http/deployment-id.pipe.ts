import { BadRequestException, Injectable, PipeTransform } from '@nestjs/common';
import { isValidDeploymentId } from '@simdeploy/domain';

/** Rejects a malformed simulation id before anything reads the store. */
@Injectable()
export class DeploymentIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!isValidDeploymentId(value)) throw new BadRequestException(`"${value}" is not a simulation id`);
    return value;
  }
}
