export { mulberry32 } from '@polyprune/shared/random';
