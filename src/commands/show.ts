import { Args } from '@oclif/core';
import { show, type Step } from '../services/show.js';
import { ReplayCommand } from './base.js';
import { formatSteps } from './format-replay.js';

export default class Show extends ReplayCommand<Step[]> {
  static override summary = "List a session's steps as the journal holds them.";
  static override description = 'Every record of the session, in order, with its attempt, time, transaction id and size. Step numbers are the ones divergences name.';
  static override examples = ['<%= config.bin %> show 42', '<%= config.bin %> show 42 --json'];
  static override args = { session: Args.string({ required: true, description: 'The session id.' }) };

  async run(): Promise<Step[]> {
    const { args, flags } = await this.parse(Show);
    const steps = show({ journal: this.journalDir(flags), session: args.session });
    if (!this.jsonEnabled()) this.log(formatSteps(steps));
    return steps;
  }
}
