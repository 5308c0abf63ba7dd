import { findExecutable } from './harness/bind';

describe('e2e harness', () => {
  it('when a BIND binary is missing, then the harness fails (never skips) with how to install it', () => {
    expect(() => findExecutable('named-that-is-not-installed')).toThrow(
      /not found[\s\S]*apt-get install -y bind9 bind9-dnsutils/,
    );
  });

  it('when BIND 9 is installed, then named, nsupdate, dig and tsig-keygen are all found', () => {
    for (const tool of ['named', 'nsupdate', 'dig', 'tsig-keygen'])
      expect(findExecutable(tool)).toMatch(/\//);
  });
});
