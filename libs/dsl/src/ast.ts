import type { SourceLoc } from './ir';

/** Syntax tree produced by the parser; positions everywhere, no semantics yet. */

export type AstValue =
  | { k: 'num'; v: number; isInt: boolean; loc: SourceLoc }
  | { k: 'str'; v: string; loc: SourceLoc }
  | { k: 'bool'; v: boolean; loc: SourceLoc }
  | { k: 'none'; loc: SourceLoc }
  /** A bare identifier used as a value (`relu`): a string. */
  | { k: 'name'; v: string; loc: SourceLoc }
  | { k: 'tuple'; items: AstValue[]; loc: SourceLoc }
  | { k: 'hpo'; fn: 'choice' | 'range' | 'log_range'; args: AstArg[]; loc: SourceLoc }
  /** `Name(args)`: a schedule or a wrapped layer. */
  | { k: 'call'; name: string; args: AstArg[]; loc: SourceLoc }
  /** `$name` inside a parameterised macro. */
  | { k: 'param'; name: string; loc: SourceLoc }
  | { k: 'binop'; op: '+' | '-' | '*' | '/'; left: AstValue; right: AstValue; loc: SourceLoc };

export interface AstArg {
  name?: string;
  nameLoc?: SourceLoc;
  value: AstValue;
}

export interface AstLayerItem {
  k: 'layer';
  name: string;
  loc: SourceLoc;
  /** null when written without parentheses (macro reference, `ResidualConnection { }`). */
  args: AstArg[] | null;
  device?: { value: string; loc: SourceLoc };
  block: AstItem[] | null;
  mult?: { value: number; loc: SourceLoc };
}

export interface AstBranchItem {
  k: 'branch';
  name: string;
  loc: SourceLoc;
  body: AstItem[];
  mult?: { value: number; loc: SourceLoc };
}

export type AstItem = AstLayerItem | AstBranchItem;

export interface AstShape {
  dims: AstValue[];
  loc: SourceLoc;
}

export interface AstInput {
  name?: string;
  shape: AstShape;
  loc: SourceLoc;
}

export interface AstSection {
  key: string;
  loc: SourceLoc;
}

export interface AstNetwork {
  name: string;
  loc: SourceLoc;
  /** `Model X { ... }` shorthand was used. */
  shorthand: boolean;
  inputs?: { items: AstInput[]; loc: SourceLoc };
  layers?: { items: AstItem[]; loc: SourceLoc };
  loss?: { value: AstValue; loc: SourceLoc };
  optimizer?: { value: AstValue; loc: SourceLoc };
  metrics?: { value: AstValue; loc: SourceLoc };
  lrSchedule?: { value: AstValue; loc: SourceLoc };
  training?: { entries: AstArg[]; loc: SourceLoc };
  execution?: { entries: AstArg[]; loc: SourceLoc };
}

export interface AstMacro {
  name: string;
  loc: SourceLoc;
  params: { name: string; loc: SourceLoc }[] | null;
  body: AstItem[];
}

export interface AstFile {
  network?: AstNetwork;
  macros: AstMacro[];
}
