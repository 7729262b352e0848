import type { Command } from 'commander';
import { loadManifest } from '../../app/manifest.js';
import { readRawManifest, renderApp, toYaml, type RenderMode } from '../../kube/render.js';
import { jsonHelp, printJson } from '../json.js';

export function register(program: Command): void {
  const kube = program.command('kube').description('run the app on Kubernetes, scaled by KEDA');
  kube
    .command('render')
    .description('print Deployments, ConfigMaps, Services, KEDA ScaledObjects (and a RuntimeClass for runwasi), validated against their schemas')
    .argument('[file]', 'app manifest', 'featherweight.yaml')
    .option('--mode <mode>', 'container (the featherweight host image) or runwasi (containerd wasmtime shim, wasi-command only)', 'container')
    .option('-n, --namespace <ns>', 'namespace of every object', 'default')
    .option('--image <image>', 'featherweight host image for container mode')
    .option('--json', `${jsonHelp}: a Kubernetes List of the objects (as kubectl get -o json), instead of YAML`)
    .action((file: string, o: { mode: string; namespace: string; image?: string; json?: boolean }) => {
      if (o.mode !== 'container' && o.mode !== 'runwasi') throw new Error(`--mode must be container or runwasi, got ${JSON.stringify(o.mode)}`);
      if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(o.namespace)) throw new Error(`--namespace ${JSON.stringify(o.namespace)} is not a DNS-1123 label`);
      const app = loadManifest(file);
      const objects = renderApp(app, {
        mode: o.mode as RenderMode,
        namespace: o.namespace,
        ...(o.image ? { image: o.image } : {}),
        rawDoc: readRawManifest(file),
        warn: (m) => console.error(`featherweight: note: ${m}`),
      });
      if (o.json) return printJson({ apiVersion: 'v1', kind: 'List', items: objects });
      process.stdout.write(toYaml(objects));
    });
}
