// The pgwarden CLI with every command, the local topology's included.
export { runCli } from './main.ts';
