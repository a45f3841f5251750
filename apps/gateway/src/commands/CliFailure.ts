/** A failure the CLI prints as is before exiting non-zero. */
export class CliFailure extends Error {}
