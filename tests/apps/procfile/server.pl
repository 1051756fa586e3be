# The procfile buildpack's example app: answers every HTTP request on $PORT
# with "hello from procfile", plus the GREETING config variable when it is
# set. Perl's core socket modules come with perl-base, which every Debian
# system has, so the package needs no Depends line.
use strict;
use warnings;
use IO::Socket::INET;

my $port = $ENV{PORT} || 5000;
my $body = "hello from procfile\n";
$body .= "$ENV{GREETING}\n" if $ENV{GREETING};

$SIG{PIPE} = 'IGNORE';
my $listener = IO::Socket::INET->new(
    LocalAddr => '0.0.0.0',
    LocalPort => $port,
    Proto     => 'tcp',
    Listen    => 16,
    ReuseAddr => 1,
) or die "procfile example: cannot listen on port $port: $!\n";
$| = 1;
print "listening on port $port\n";

while (my $client = $listener->accept) {
    # Read the request headers up to the blank line that ends them.
    while (my $line = <$client>) {
        last if $line =~ /^\r?\n$/;
    }
    print $client "HTTP/1.1 200 OK\r\n",
        "Content-Type: text/plain; charset=utf-8\r\n",
        "Content-Length: ", length($body), "\r\n",
        "Connection: close\r\n\r\n", $body;
    close $client;
}
