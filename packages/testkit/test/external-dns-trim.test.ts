import { describe, expect, it } from '@jest/globals';
import { EXTERNAL_DNS_TRIM, trimSource } from '../src/harness/go-tools.ts';

// Excerpts of ExternalDNS v0.23.0's source/store.go and provider/factory/provider.go, as gofmt leaves them.
const store = [
  'import (',
  '\t"sync"',
  '',
  '\topenshift "github.com/openshift/client-go/route/clientset/versioned"',
  '\tlog "github.com/sirupsen/logrus"',
  ')',
  '',
  'type ClientGenerator interface {',
  '\tKubeClient() (kubernetes.Interface, error)',
  '\tOpenShiftClient() (openshift.Interface, error)',
  '\tRESTConfig() (*rest.Config, error)',
  '}',
  '',
  'type SingletonClientGenerator struct {',
  '\tdynKubeClientErr   error',
  '\topenshiftClient    openshift.Interface',
  '\topenshiftClientErr error',
  '\tdynCliOnce         sync.Once',
  '\topenshiftOnce      sync.Once',
  '}',
  '',
  '// OpenShiftClient generates an openshift client if it was not created before',
  'func (p *SingletonClientGenerator) OpenShiftClient() (openshift.Interface, error) {',
  '\tp.openshiftOnce.Do(func() {',
  '\t\tlog.Infof("Created OpenShift client %s", config.Host)',
  '\t})',
  '\treturn p.openshiftClient, p.openshiftClientErr',
  '}',
  '',
  '// ByNames returns multiple Sources given multiple names.',
  'func ByNames() {',
  '\tswitch t {',
  '\tcase types.TraefikProxy:',
  '\t\treturn buildTraefikProxySource(ctx, p, cfg)',
  '\tcase types.OpenShiftRoute:',
  '\t\treturn buildOpenShiftRouteSource(ctx, p, cfg)',
  '\tcase types.Fake:',
  '\t\treturn NewFakeSource(cfg)',
  '\t}',
  '}',
  '',
  'func buildOpenShiftRouteSource(ctx context.Context, p ClientGenerator, cfg *Config) (Source, error) {',
  '\tocpClient, err := p.OpenShiftClient()',
  '\tif err != nil {',
  '\t\treturn nil, err',
  '\t}',
  '\treturn NewOcpRouteSource(ctx, ocpClient, cfg)',
  '}',
  '',
  '// buildCRDSource creates a CRD source.',
  '',
].join('\n');

// Its provider.go's imports and map of constructors, whole.
const factory = [
  '\t"sigs.k8s.io/external-dns/provider/alibabacloud"',
  '\t"sigs.k8s.io/external-dns/provider/aws"',
  '\t"sigs.k8s.io/external-dns/provider/awssd"',
  '\t"sigs.k8s.io/external-dns/provider/azure"',
  '\t"sigs.k8s.io/external-dns/provider/civo"',
  '\t"sigs.k8s.io/external-dns/provider/cloudflare"',
  '\t"sigs.k8s.io/external-dns/provider/coredns"',
  '\t"sigs.k8s.io/external-dns/provider/dnsimple"',
  '\t"sigs.k8s.io/external-dns/provider/exoscale"',
  '\t"sigs.k8s.io/external-dns/provider/godaddy"',
  '\t"sigs.k8s.io/external-dns/provider/google"',
  '\t"sigs.k8s.io/external-dns/provider/inmemory"',
  '\t"sigs.k8s.io/external-dns/provider/linode"',
  '\t"sigs.k8s.io/external-dns/provider/ns1"',
  '\t"sigs.k8s.io/external-dns/provider/oci"',
  '\t"sigs.k8s.io/external-dns/provider/ovh"',
  '\t"sigs.k8s.io/external-dns/provider/pdns"',
  '\t"sigs.k8s.io/external-dns/provider/pihole"',
  '\t"sigs.k8s.io/external-dns/provider/rfc2136"',
  '\t"sigs.k8s.io/external-dns/provider/scaleway"',
  '\t"sigs.k8s.io/external-dns/provider/webhook"',
  '\t\texternaldns.ProviderAlibabaCloud: alibabacloud.New,',
  '\t\texternaldns.ProviderAWS:          aws.New,',
  '\t\texternaldns.ProviderAWSSD:        awssd.New,',
  '\t\texternaldns.ProviderAzure:        azure.New,',
  '\t\texternaldns.ProviderAzureDNS:     azure.New,',
  '\t\texternaldns.ProviderAzurePrivate: azure.NewPrivate,',
  '\t\texternaldns.ProviderCivo:         civo.New,',
  '\t\texternaldns.ProviderCloudflare:   cloudflare.New,',
  '\t\texternaldns.ProviderCoreDNS:      coredns.New,',
  '\t\texternaldns.ProviderSkyDNS:       coredns.New,',
  '\t\texternaldns.ProviderDNSimple:     dnsimple.New,',
  '\t\texternaldns.ProviderExoscale:     exoscale.New,',
  '\t\texternaldns.ProviderGoDaddy:      godaddy.New,',
  '\t\texternaldns.ProviderGoogle:       google.New,',
  '\t\texternaldns.ProviderInMemory:     inmemory.New,',
  '\t\texternaldns.ProviderLinode:       linode.New,',
  '\t\texternaldns.ProviderNS1:          ns1.New,',
  '\t\texternaldns.ProviderOCI:          oci.New,',
  '\t\texternaldns.ProviderOVH:          ovh.New,',
  '\t\texternaldns.ProviderPDNS:         pdns.New,',
  '\t\texternaldns.ProviderPihole:       pihole.New,',
  '\t\texternaldns.ProviderRFC2136:      rfc2136.New,',
  '\t\texternaldns.ProviderScaleway:     scaleway.New,',
  '\t\texternaldns.ProviderWebhook:      webhook.New,',
  '',
].join('\n');

const trim = (file: string, text: string) => trimSource(file, text, EXTERNAL_DNS_TRIM.find((t) => t.file === file)?.remove ?? []);

describe("the trim of ExternalDNS's source the harness builds", () => {
  it('takes out the OpenShift Route source and every provider but AWS, and nothing else', () => {
    const trimmed = trim('source/store.go', store);
    expect(trimmed).not.toMatch(/openshift/i);
    expect(trimmed).toContain('\tcase types.TraefikProxy:\n\t\treturn buildTraefikProxySource(ctx, p, cfg)\n\tcase types.Fake:');
    expect(trimmed).toContain('\tdynKubeClientErr   error\n\tdynCliOnce         sync.Once\n}');
    expect(trimmed).toContain('// ByNames returns multiple Sources given multiple names.');
    expect(trimmed).toContain('// buildCRDSource creates a CRD source.');

    const providers = trim('provider/factory/provider.go', factory);
    expect(providers.split('\n')).toEqual([
      '\t"sigs.k8s.io/external-dns/provider/aws"',
      '\t\texternaldns.ProviderAWS:          aws.New,',
      '',
    ]);
  });

  it('fails naming what it no longer finds, so a version bump that moved the code says where', () => {
    expect(() => trim('provider/factory/provider.go', factory.replace('civo.New', 'civo.Provider'))).toThrow(
      /^external-dns: provider\/factory\/provider.go no longer has .*civo.*: update EXTERNAL_DNS_TRIM$/,
    );
  });
});
