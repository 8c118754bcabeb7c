// Test support for the deciders: given/when/then specifications and histories built by the
// decider itself. Not exported from the library (specs import it relatively), not built.
export * from './specification';
export * from './histories';
