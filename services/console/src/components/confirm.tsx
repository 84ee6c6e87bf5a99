import type { Ref } from 'preact';

/** Props of {@link ConfirmDialog}. */
export interface ConfirmDialogProps {
  dialogRef: Ref<HTMLDialogElement>;
  id: string;
  title: string;
  message: string;
  confirmLabel: string;
  onConfirm(): void;
}

/**
 * A modal question before something that cannot be undone; open it with `showModal()` on the
 * element behind `dialogRef`. Escape or Cancel closes it; Cancel comes first, so the focus that
 * `showModal()` places on it never confirms by accident.
 */
export function ConfirmDialog({
  dialogRef,
  id,
  title,
  message,
  confirmLabel,
  onConfirm,
}: ConfirmDialogProps) {
  const close = (e: Event) =>
    ((e.currentTarget as HTMLElement).closest('dialog') as HTMLDialogElement)?.close();
  return (
    <dialog ref={dialogRef} aria-labelledby={`${id}-title`}>
      <h3 id={`${id}-title`}>{title}</h3>
      <p>{message}</p>
      <div class="actions">
        <button type="button" onClick={close}>
          Cancel
        </button>
        <button
          type="button"
          class="danger"
          onClick={(e) => {
            close(e);
            onConfirm();
          }}
        >
          {confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
