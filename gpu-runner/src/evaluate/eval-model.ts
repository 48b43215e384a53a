/** The opened model every evaluation pass takes (model.ts opens it, cache-probe.ts measures its cache), in a module of its own. */
import type { GraphIO } from '../onnx/graph-io.js';
import type { Session } from '../ort.js';
import type { LoadedTokenizer } from '../tokenize/index.js';

export interface CacheAbilities {
  /** a multi-token step after a non-empty past (shared prefixes) */
  prefix: boolean;
  /** a one-token step after a non-empty past (greedy decoding) */
  step: boolean;
  /** continuing a cache that holds padding slots (right-padded batches of unequal prefixes) */
  padded: boolean;
  /** why an ability is off, when the graph has a cache */
  reason?: string;
}

export interface EvalModel {
  session: Session;
  tokenizer: LoadedTokenizer;
  io: GraphIO;
  /** maximum sequence length the model was trained for (positions); long inputs are windowed */
  contextLength: number;
  /** what the KV cache was measured to support (all false without a cache) */
  cache: CacheAbilities;
  /** most logits (batch × tokens × vocab floats) one forward pass may return; see logitBudget */
  logitFloats?: number;
}
