// Shared setup for the attestation tests: a simulator in a temporary state folder, closed after
// the test file.
import { after } from 'node:test';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/attestation/simulator/index.ts';
import { tempDir } from '../helpers/tmp.ts';

export async function testSimulator(o: Partial<SimulatorOptions> = {}): Promise<Simulator> {
  const sim = await startSimulator({ dir: o.dir ?? tempDir('wh-att-'), ...o });
  after(() => sim.close());
  return sim;
}

export const nowSecs = (): number => Math.floor(Date.now() / 1000);
