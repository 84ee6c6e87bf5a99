/** A promise that something else resolves once (a watch's "snapshot loaded"). */
export class Latch {
  /** Resolves at the first {@link open}. */
  readonly promise: Promise<void>;
  private resolve!: () => void;
  private opened = false;

  constructor() {
    this.promise = new Promise<void>((resolve) => {
      this.resolve = resolve;
    });
  }

  /** Whether {@link open} was called. */
  get isOpen(): boolean {
    return this.opened;
  }

  /** Resolves {@link promise}; later calls do nothing. */
  open(): void {
    this.opened = true;
    this.resolve();
  }
}
