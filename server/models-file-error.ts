/** A models file that cannot be served: the message is one line naming the file and the entry. (No imports: the CLI's error report loads this at start-up.) */
export class ModelsFileError extends Error {
  readonly file: string;
  constructor(file: string, detail: string, options?: ErrorOptions) {
    super(`models file ${file}: ${detail}`, options);
    this.file = file;
    this.name = 'ModelsFileError';
  }
}
