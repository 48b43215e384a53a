export { mulberry32 } from '../../shared/src/random.js';
