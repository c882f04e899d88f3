/**
 * The figures in use by the posture model: the base (`contract/figures.ts`, documented and
 * assumed) with what a calibration file measured in place of what it covers. Importing this
 * module reads nothing: until an entry point calls `useCalibration()` the figures in use are the
 * base ones. The posture report, the drill and the bench call it first.
 */
import { BASE_FIGURES, type Figure, type FigureId } from "../../contract/figures.ts";
import { DEFAULT_CALIBRATION_FILE, figuresInUse, readCalibration, type Calibration } from "./calibration.ts";

export { BASE_FIGURES, FIGURE_IDS, type Figure, type FigureId, type FigureKind } from "../../contract/figures.ts";

/** The figures in use: the base, with what the calibration file measured in place of what it covers. */
export const FIGURES: Record<FigureId, Figure> = { ...BASE_FIGURES };

/** The calibration the figures in use come from (see `useCalibration`). */
export let CALIBRATION: Calibration = { calibrationVersion: 1, runs: [] };

/**
 * Reads `file` (default: the committed `calibration.json`) and puts its measured figures in use.
 * A missing default file leaves the base figures; a malformed one throws, naming what is wrong.
 */
export function useCalibration(file: string = DEFAULT_CALIBRATION_FILE): Calibration {
  const calibration = readCalibration(file, { missingOk: file === DEFAULT_CALIBRATION_FILE });
  Object.assign(FIGURES, BASE_FIGURES, figuresInUse(BASE_FIGURES, calibration));
  CALIBRATION = calibration;
  return calibration;
}
