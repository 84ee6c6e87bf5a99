/** Offered load as fractions of the floor's capacity (issue 19). */
export const LOAD_FRACTIONS = [0.25, 0.5, 0.75, 0.9, 1.1];
