// Fixture files imported as text (`?raw`), so tests upload the very bytes under test/fixtures.
declare module '*?raw' {
  const text: string;
  export default text;
}
