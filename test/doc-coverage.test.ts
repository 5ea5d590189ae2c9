import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { expect, it } from 'vitest';

// Every symbol src/index.ts exports, and every public member of the classes, interfaces and
// object types among them, must carry a doc comment: editors show it on hover and TypeDoc builds
// docs/api from it. Members marked @internal are library plumbing and exempt.

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'src');

/** The binder and checker are enough to read exports and comments: no type-check of the whole program. */
function loadProgram(entry: string): { checker: ts.TypeChecker; module: ts.Symbol } {
  const program = ts.createProgram([entry], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
    types: ['node'],
    strict: true,
    skipLibCheck: true,
    noEmit: true,
  });
  const sf = program.getSourceFile(entry);
  if (sf === undefined) throw new Error(`doc-coverage: can't load ${entry}`);
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(sf);
  if (module === undefined) throw new Error(`doc-coverage: ${entry} is not a module`);
  return { checker, module };
}

const inSrc = (d: ts.Declaration): boolean => !relative(srcDir, d.getSourceFile().fileName).startsWith('..');

/** Undocumented public API of the module at `entry`, one "name (file)" line each. */
function undocumented(entry: string): string[] {
  const { checker, module } = loadProgram(entry);
  const missing: string[] = [];
  const seen = new Set<ts.Symbol>();

  const isInternal = (s: ts.Symbol): boolean =>
    (s.declarations ?? []).some((d) => ts.getJSDocTags(d).some((t) => t.tagName.text === 'internal'));
  // getDocumentationComment falls back to the overridden member's comment, as TypeDoc does.
  const hasDoc = (s: ts.Symbol): boolean => ts.displayPartsToString(s.getDocumentationComment(checker)).trim() !== '';
  const where = (s: ts.Symbol): string => {
    const d = s.declarations?.[0];
    return d === undefined ? '?' : relative(root, d.getSourceFile().fileName);
  };
  const reported = new Set<ts.Symbol>();
  const need = (s: ts.Symbol, name: string): void => {
    // An inherited member is one symbol however many subclasses show it: report it once.
    if (reported.has(s)) return;
    reported.add(s);
    if (!hasDoc(s)) missing.push(`${name} (${where(s)})`);
    for (const d of s.declarations ?? []) if (inSrc(d)) literalMembers(d, name);
  };

  // Object types written inline (`options: { seed?: number }`, `(): { missingKeys: string[] }`) are
  // documented member by member as well: TypeDoc lists their fields like an interface's.
  const literalMembers = (decl: ts.Node, owner: string): void => {
    const walk = (n: ts.Node): void => {
      if (ts.isTypeLiteralNode(n)) {
        for (const m of n.members) {
          const ms = m.name !== undefined ? checker.getSymbolAtLocation(m.name) : undefined;
          if (ms !== undefined && !isInternal(ms)) need(ms, `${owner}.${displayName(ms)}`);
        }
        return;
      }
      if (ts.isBlock(n) || ts.isExpression(n)) return; // bodies and initializers are not API
      ts.forEachChild(n, walk);
    };
    // A class's or interface's members are visited as members, and a literal's as its own.
    if (ts.isClassLike(decl) || ts.isInterfaceDeclaration(decl) || ts.isTypeLiteralNode(decl)) return;
    ts.forEachChild(decl, walk);
  };

  const isPublicMember = (s: ts.Symbol): boolean => {
    if (s.name.startsWith('__#') || s.name === 'prototype') return false; // #private fields
    const decls = s.declarations ?? [];
    if (decls.length === 0 || !decls.some(inSrc)) return false; // members of Object, Error, lib types
    if (isInternal(s)) return false;
    return !decls.some((d) => {
      const id = ts.getNameOfDeclaration(d);
      return (ts.getCombinedModifierFlags(d) & ts.ModifierFlags.Private) !== 0 || (id !== undefined && ts.isPrivateIdentifier(id));
    });
  };

  const members = (owner: string, type: ts.Type, sep: string): void => {
    for (const m of checker.getPropertiesOfType(type)) {
      if (isPublicMember(m)) need(m, `${owner}${sep}${displayName(m)}`);
    }
  };

  const visit = (exported: ts.Symbol, name: string): void => {
    const s = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    if (seen.has(s)) return;
    seen.add(s);
    if (s.flags & ts.SymbolFlags.ValueModule && !(s.flags & ts.SymbolFlags.Function)) {
      // `export * as init`: a namespace; its functions are the API.
      for (const e of checker.getExportsOfModule(s)) visit(e, `${name}.${e.name}`);
      return;
    }
    if (isInternal(s)) return;
    need(s, name);
    if (s.flags & ts.SymbolFlags.Class) {
      members(name, checker.getDeclaredTypeOfSymbol(s), '#');
      members(name, checker.getTypeOfSymbol(s), '.');
    } else if (s.flags & ts.SymbolFlags.Interface) {
      members(name, checker.getDeclaredTypeOfSymbol(s), '.');
    } else if (s.flags & ts.SymbolFlags.Enum) {
      for (const e of checker.getExportsOfModule(s)) need(e, `${name}.${e.name}`);
    }
  };

  for (const e of checker.getExportsOfModule(module)) visit(e, e.name);
  return missing.sort();
}

/** `[Symbol.dispose]` for well-known symbols, the plain name otherwise. */
function displayName(s: ts.Symbol): string {
  const m = /^__@(\w+)@\d+$/.exec(s.name);
  return m !== null ? `[Symbol.${m[1]}]` : s.name;
}

it('every public export of src/index.ts and every public member has a doc comment', () => {
  const missing = undocumented(join(srcDir, 'index.ts'));
  expect(missing, `undocumented:\n  ${missing.join('\n  ')}`).toEqual([]);
}, 30_000);
