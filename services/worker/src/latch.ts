/** A promise that something else resolves once (a watch's "snapshot loaded"). */
export class Latch {
  /** Resolves at the first {@link open}. */
  readonly promise: Promise<void>;
  /** Resolves {@link promise}; later calls do nothing. */
  readonly open: () => void;

  constructor() {
    let open!: () => void;
    this.promise = new Promise<void>((resolve) => {
      open = resolve;
    });
    this.open = open;
  }
}
