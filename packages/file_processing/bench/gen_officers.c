/* gen_officers.c — deterministic generator of realistic police Officer_Detail.csv files
 * (demo data, test input, benchmark input). Standalone: libc only, integer arithmetic
 * only, its own PRNG, so the same arguments give byte-identical output on any machine.
 *
 * Each "slot" after the header emits exactly one record. Two independent PRNG streams
 * (derived from --seed) drive it: the officer stream generates a clean officer for every
 * slot, the defect stream decides whether and how to damage that slot. Hence a defective
 * file lines up slot by slot with the --clean file of the same seed: every record is
 * either identical to the clean one or carries exactly one defect. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OUT_CAP (4u << 20)  /* output buffer, flushed with write(2) */
#define ROW_CAP (16u << 10) /* one record; the longest possible record is < 2 KiB */
#define NOTES_CAP 1024u
#define DEFAULT_ROWS 1000u
#define DEFAULT_RATE_PPB 2000000u /* 0.002 */
#define PPB 1000000000u
#define EXIT_USAGE 2
#define EXIT_IO 1

/* ---------------------------------------------------------------- PRNG (xoshiro256**) */

typedef struct {
  uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

/* Uniform in [0, n), n < 2^32 (multiply-shift; bias < 2^-32, irrelevant here). */
static uint32_t below(rng *r, uint32_t n) {
  return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static int64_t between(rng *r, int64_t lo, int64_t hi) { /* inclusive, hi-lo < 2^32 */
  return lo + (int64_t)below(r, (uint32_t)(hi - lo + 1));
}

static int chance(rng *r, uint32_t per_mille) {
  return below(r, 1000) < per_mille;
}

/* Index into a table of weights summing to total. */
static size_t pick_weighted(rng *r, const uint16_t *w, size_t n, uint32_t total) {
  uint32_t x = below(r, total);
  for (size_t i = 0; i < n; i++) {
    if (x < w[i]) return i;
    x -= w[i];
  }
  return n - 1;
}

/* Number of successes before the first failure; mean p/(1-p). Heavy right tail. */
static unsigned geometric(rng *r, uint32_t p_per_mille, unsigned cap) {
  unsigned k = 0;
  while (k < cap && chance(r, p_per_mille)) k++;
  return k;
}

/* ---------------------------------------------------------------- calendar (civil days) */

/* Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm). */
static int32_t days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  int era = (y >= 0 ? y : y - 399) / 400;
  int yoe = y - era * 400;
  int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(int32_t z, int *y, int *m, int *d) {
  z += 719468;
  int era = (z >= 0 ? z : z - 146096) / 146097;
  int doe = z - era * 146097;
  int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp + (mp < 10 ? 3 : -9);
  *y = yoe + era * 400 + (*m <= 2);
}

/* ---------------------------------------------------------------- bounded row buffer */

typedef struct {
  char *p;
  size_t len, cap;
} sbuf;

static void overflow(void) {
  fputs("fp-gen-officers: internal error: record buffer overflow\n", stderr);
  abort();
}

static void put_mem(sbuf *b, const char *s, size_t n) {
  if (n > b->cap - b->len) overflow();
  memcpy(b->p + b->len, s, n);
  b->len += n;
}

static void put_ch(sbuf *b, char c) {
  if (b->len == b->cap) overflow();
  b->p[b->len++] = c;
}

static void put_str(sbuf *b, const char *s) {
  put_mem(b, s, strlen(s));
}

static void put_u64(sbuf *b, uint64_t v) {
  char tmp[20];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  if (n > b->cap - b->len) overflow();
  while (n) b->p[b->len++] = tmp[--n];
}

static void put_digits(sbuf *b, unsigned v, int width) { /* zero-padded */
  if ((size_t)width > b->cap - b->len) overflow();
  for (int i = width - 1; i >= 0; i--) {
    b->p[b->len + (size_t)i] = (char)('0' + v % 10);
    v /= 10;
  }
  b->len += (size_t)width;
}

static void put_cents(sbuf *b, int64_t cents) { /* -1234 -> "-12.34" */
  uint64_t u = cents < 0 ? (uint64_t)(-cents) : (uint64_t)cents;
  if (cents < 0) put_ch(b, '-');
  put_u64(b, u / 100);
  put_ch(b, '.');
  put_digits(b, (unsigned)(u % 100), 2);
}

static void put_dollars_grouped(sbuf *b, int64_t cents) { /* 5200000 -> "$52,000.00" */
  char tmp[32];
  size_t n = 0;
  uint64_t d = (uint64_t)cents / 100;
  int group = 0;
  do {
    if (group == 3) {
      tmp[n++] = ',';
      group = 0;
    }
    tmp[n++] = (char)('0' + d % 10);
    d /= 10;
    group++;
  } while (d);
  put_ch(b, '$');
  while (n) put_ch(b, tmp[--n]);
  put_ch(b, '.');
  put_digits(b, (unsigned)((uint64_t)cents % 100), 2);
}

static void put_iso_date(sbuf *b, int32_t day) {
  int y, m, d;
  civil_from_days(day, &y, &m, &d);
  put_digits(b, (unsigned)y, 4);
  put_ch(b, '-');
  put_digits(b, (unsigned)m, 2);
  put_ch(b, '-');
  put_digits(b, (unsigned)d, 2);
}

static void put_us_date(sbuf *b, int32_t day) {
  int y, m, d;
  civil_from_days(day, &y, &m, &d);
  put_digits(b, (unsigned)m, 2);
  put_ch(b, '/');
  put_digits(b, (unsigned)d, 2);
  put_ch(b, '/');
  put_digits(b, (unsigned)y, 4);
}

static void put_iso_datetime(sbuf *b, int64_t epoch_sec) {
  int32_t day = (int32_t)(epoch_sec / 86400);
  unsigned sec = (unsigned)(epoch_sec % 86400);
  put_iso_date(b, day);
  put_ch(b, 'T');
  put_digits(b, sec / 3600, 2);
  put_ch(b, ':');
  put_digits(b, sec / 60 % 60, 2);
  put_ch(b, ':');
  put_digits(b, sec % 60, 2);
  put_ch(b, 'Z');
}

/* RFC 4180 field: quoted only when it contains a comma, quote, CR or LF. */
static void put_field(sbuf *b, const char *s, size_t n) {
  if (!memchr(s, ',', n) && !memchr(s, '"', n) && !memchr(s, '\n', n) && !memchr(s, '\r', n)) {
    put_mem(b, s, n);
    return;
  }
  put_ch(b, '"');
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '"') put_ch(b, '"');
    put_ch(b, s[i]);
  }
  put_ch(b, '"');
}

static void put_fieldz(sbuf *b, const char *s) {
  put_field(b, s, strlen(s));
}

/* ---------------------------------------------------------------- reference data */

static const char *const HEADER =
    "officer_id,badge_number,first_name,last_name,rank,unit,division,hire_date,"
    "separation_date,birth_year,sex,race,base_salary,overtime_pay,total_pay,"
    "complaints_total,complaints_sustained,use_of_force_count,email,phone,notes,"
    "last_updated\n";

static const char *const MALE_FIRST[] = {
    "James",     "John",     "Robert",    "Michael", "David",   "Daniel",  "Joseph", "Christopher",
    "Anthony",   "Matthew",  "Joshua",    "Andrew",  "Ryan",    "Brandon", "Jason",  "Justin",
    "Kevin",     "Eric",     "Steven",    "Mark",    "Thomas",  "Richard", "Paul",   "Adam",
    "Aaron",     "José",     "Juan",      "Carlos",  "Luis",    "Jesús",   "Miguel", "Manuel",
    "Francisco", "Antonio",  "Ramón",     "Joaquín", "Andrés",  "Rubén",   "Adrián", "Víctor",
    "Gilbert",   "Lawrence", "Ernest",    "Phillip", "Raymond", "Patrick", "Sean",   "Darnell",
    "Tyrone",    "Kenji",    "Jean-Paul", "D'Andre", "Isaiah",  "Gabriel", "Diego",  "Mateo",
    "Ángel",     "Esteban",  "Leroy",     "Wayne",
};
static const char *const FEMALE_FIRST[] = {
    "Mary",      "Jennifer", "Maria",     "María",   "Elizabeth",  "Jessica",  "Sarah",
    "Ashley",    "Amanda",   "Stephanie", "Nicole",  "Melissa",    "Michelle", "Angela",
    "Lisa",      "Laura",    "Rebecca",   "Rachel",  "Christina",  "Andrea",   "Verónica",
    "Guadalupe", "Rosa",     "Yolanda",   "Carmen",  "Ana",        "Sofía",    "Lucía",
    "Mónica",    "Leticia",  "Renée",     "Chloé",   "Anne-Marie", "D'Arcy",   "Kimberly",
    "Danielle",  "Brianna",  "Crystal",   "Natalie", "Marisol",
};
static const char *const LAST[] = {
    "Garcia",     "García",    "Martinez",    "Martínez",  "Chavez",       "Chávez",
    "Sanchez",    "Sánchez",   "Gonzales",    "Romero",    "Lucero",       "Baca",
    "Montoya",    "Trujillo",  "Sandoval",    "Gallegos",  "Apodaca",      "Archuleta",
    "Padilla",    "Aragón",    "Armijo",      "Otero",     "Vigil",        "Maestas",
    "Candelaria", "Tafoya",    "Jaramillo",   "Lovato",    "Griego",       "Ortiz",
    "Lopez",      "López",     "Hernández",   "Rodriguez", "Pérez",        "Torres",
    "Núñez",      "Peña",      "Ibáñez",      "Muñoz",     "García-López", "Sánchez-Baca",
    "De La Cruz", "de Vargas", "Smith",       "Johnson",   "Williams",     "Brown",
    "Jones",      "Miller",    "Davis",       "Wilson",    "Anderson",     "Taylor",
    "Thomas",     "Moore",     "Jackson",     "Martin",    "Lee",          "Thompson",
    "White",      "Harris",    "Clark",       "Lewis",     "Robinson",     "Walker",
    "Young",      "Allen",     "King",        "Wright",    "Scott",        "Hill",
    "Green",      "Adams",     "Baker",       "Nelson",    "Carter",       "Mitchell",
    "Roberts",    "Campbell",  "O'Brien",     "O'Connor",  "O'Neil",       "D'Angelo",
    "McDonald",   "MacKenzie", "Smith-Jones", "Begay",     "Yazzie",       "Tsosie",
    "Benally",    "Nez",       "Etsitty",     "Chee",      "Nguyen",       "Tran",
    "Kim",        "Park",      "Chen",        "Wong",      "Patel",
};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

enum { CHIEF_RANK_FIRST = 7 }; /* Deputy Chief and Chief sit in the Office of the Chief */
static const char *const RANK_NAME[] = {"Officer",   "Senior Officer", "Detective",
                                        "Sergeant",  "Lieutenant",     "Captain",
                                        "Commander", "Deputy Chief",   "Chief"};
static const uint16_t RANK_WEIGHT[] = {450, 200, 140, 110, 50, 25, 15, 7, 3}; /* per 1000 */
static const uint32_t RANK_PAY_MIN[] = {45000,  58000,  62000,  75000, 90000,
                                        105000, 115000, 135000, 160000}; /* USD */
static const uint32_t RANK_PAY_MAX[] = {72000,  82000,  90000,  102000, 120000,
                                        135000, 150000, 165000, 180000};

static const char *const DIVISION[] = {
    "Field Services Bureau",           "Investigative Bureau",
    "Special Operations Division",     "Support Services Bureau",
    "Compliance and Oversight Bureau", "Office of the Chief",
};
static const struct {
  const char *name;
  uint8_t division;
  uint8_t force_prone; /* patrol and tactical units use force more often */
  uint16_t weight;
} UNITS[] = {
    {"Southeast Area Command", 0, 1, 90},
    {"Northeast Area Command", 0, 1, 90},
    {"Southwest Area Command", 0, 1, 80},
    {"Northwest Area Command", 0, 1, 70},
    {"Foothills Area Command", 0, 1, 80},
    {"Valley Area Command", 0, 1, 90},
    {"Homicide", 1, 0, 25},
    {"Violent Crimes", 1, 0, 25},
    {"Property Crimes", 1, 0, 30},
    {"Crimes Against Children, Special Victims", 1, 0, 20},
    {"Narcotics", 1, 0, 20},
    {"Auto Theft", 1, 0, 15},
    {"Real Time Crime Center", 1, 0, 15},
    {"Traffic", 2, 0, 40},
    {"Motors", 2, 0, 20},
    {"SWAT", 2, 1, 15},
    {"K-9", 2, 1, 10},
    {"Bomb Squad", 2, 0, 5},
    {"Horse Mounted Unit", 2, 0, 5},
    {"Open Space", 2, 0, 10},
    {"Crisis Intervention", 2, 0, 15},
    {"Training Academy", 3, 0, 25},
    {"Records", 3, 0, 10},
    {"Recruiting", 3, 0, 10},
    {"Internal Affairs Professional Standards", 4, 0, 15},
    {"Internal Affairs Force Division", 4, 0, 15},
    {"Office of the Chief", 5, 0, 0}, /* chiefs only */
};
enum { UNIT_CHIEF = (int)COUNT(UNITS) - 1 };

static const char *const RACE[] = {
    "Hispanic",    "White",   "American Indian/Alaska Native",
    "Black",       "Asian",   "Native Hawaiian/Pacific Islander",
    "Two or More", "Unknown",
};
static const uint16_t RACE_WEIGHT[] = {480, 330, 60, 40, 30, 5, 30, 25}; /* per 1000 */

static const char *const NOTE_SENTENCES[] = {
    "Transferred from Valley Area Command.",
    "Completed CIT training.",
    "Bilingual (Spanish); receives language differential.",
    "On administrative leave pending IA review, case 2019-0412.",
    "Requested transfer to \"day shift\" due to family obligations.",
    "Commendation for response to the Central Ave. shooting, 2017.",
    "Lateral hire from Rio Rancho PD.",
    "Field training officer, supervises two recruits.",
    "Light duty through end of quarter, per HR.",
    "Nickname \"Sonny\" appears in older records.",
    "Rehired after a 2-year break in service.",
    "Military leave (NM National Guard), returned 2021.",
    "IA case closed, no findings.",
    "Previously assigned to Open Space Unit.",
    "Résumé on file; certifications: EMT-B, SWAT, CIT.",
    "Name changed from \"Martinez\" in HR system.",
    "Badge reissued after loss.",
    "Body camera policy refresher completed.",
    "Pay step adjusted retroactively.",
    "See memo dated 3/2/2020.",
};

/* ---------------------------------------------------------------- names and emails */

typedef struct {
  const char *display; /* UTF-8 as in HR */
  char email[40];      /* lowercase ASCII, accents folded, apostrophes and spaces dropped */
  size_t email_len;
} name_ent;

/* ASCII letter for the second byte of a two-byte UTF-8 sequence starting 0xC3 (Latin-1
 * letters U+00C0..U+00FF), 0 when it has none. */
static char fold_c3(unsigned char c2) {
  static const char map[65] =
      "aaaaaaaceeeeiiiidnooooo0ouuuuyts"
      "aaaaaaaceeeeiiiidnooooo0ouuuuyty";
  char f = map[c2 & 0x3F];
  return f == '0' ? 0 : f;
}

static void name_init(name_ent *e, const char *display) {
  const unsigned char *s = (const unsigned char *)display;
  size_t n = 0;
  e->display = display;
  for (; *s && n + 1 < sizeof(e->email); s++) {
    char c = 0;
    if (*s == 0xC3 && s[1] >= 0x80 && s[1] <= 0xBF)
      c = fold_c3(*++s);
    else if (*s >= 'A' && *s <= 'Z')
      c = (char)(*s - 'A' + 'a');
    else if ((*s >= 'a' && *s <= 'z') || *s == '-')
      c = (char)*s;
    if (c) e->email[n++] = c;
  }
  e->email_len = n;
}

/* Tables derived once from the constant data above. */
typedef struct {
  name_ent male[COUNT(MALE_FIRST)], female[COUNT(FEMALE_FIRST)], last[COUNT(LAST)];
  uint16_t unit_weight[COUNT(UNITS)];
  uint32_t unit_total;
} tables;

static void tables_init(tables *t) {
  for (size_t i = 0; i < COUNT(MALE_FIRST); i++) name_init(&t->male[i], MALE_FIRST[i]);
  for (size_t i = 0; i < COUNT(FEMALE_FIRST); i++) name_init(&t->female[i], FEMALE_FIRST[i]);
  for (size_t i = 0; i < COUNT(LAST); i++) name_init(&t->last[i], LAST[i]);
  t->unit_total = 0;
  for (size_t i = 0; i < COUNT(UNITS); i++) t->unit_total += t->unit_weight[i] = UNITS[i].weight;
}

/* ---------------------------------------------------------------- one officer */

typedef struct {
  uint64_t id;
  unsigned badge;
  const name_ent *first, *last;
  unsigned email_suffix; /* 0 = none */
  int rank, unit;
  int32_t hire_day, sep_day; /* sep_day < 0: still employed */
  int birth_year;
  char sex;
  int race;
  int64_t base_cents, ot_cents;
  unsigned complaints, sustained, uof;
  unsigned phone;
  int64_t updated_sec;
  char notes[NOTES_CAP];
  size_t notes_len;
} officer;

#define HIRE_FIRST_DAY days_from_civil(1985, 1, 1)
#define AS_OF_DAY days_from_civil(2026, 6, 30) /* the export's "today" */

static void gen_notes(officer *o, rng *r) {
  sbuf b = {o->notes, 0, sizeof(o->notes)};
  if (chance(r, 700)) {
    o->notes_len = 0;
    return;
  }
  unsigned n = 1 + (unsigned)geometric(r, 350, 2);
  for (unsigned i = 0; i < n; i++) {
    if (i > 0) {
      uint32_t sep = below(r, 100);
      put_str(&b, sep < 80 ? " " : sep < 92 ? "\n" : "\r\n");
    }
    put_str(&b, NOTE_SENTENCES[below(r, COUNT(NOTE_SENTENCES))]);
  }
  o->notes_len = b.len;
}

static void gen_pay(officer *o, rng *r) {
  int years = (AS_OF_DAY - o->hire_day) / 365;
  if (years > 40) years = 40;
  uint32_t lo = RANK_PAY_MIN[o->rank], hi = RANK_PAY_MAX[o->rank];
  /* Half seniority, half noise, within the rank's band; cents are arbitrary. */
  uint64_t span_cents = (uint64_t)(hi - lo) * 100;
  uint64_t step = span_cents * (uint64_t)years / 80 + (span_cents / 2) * below(r, 1001) / 1000;
  o->base_cents = (int64_t)((uint64_t)lo * 100 + step + below(r, 100));
  if (o->base_cents > (int64_t)hi * 100) o->base_cents = (int64_t)hi * 100;
  if (chance(r, 150)) {
    o->ot_cents = 0;
  } else { /* product of two uniforms: mostly modest, occasionally large */
    uint64_t a = below(r, 6000001), c = below(r, 1001);
    o->ot_cents = (int64_t)(a * c / 1000);
  }
}

static void gen_complaints(officer *o, rng *r) {
  int high = chance(r, 50); /* a few officers attract most complaints */
  o->complaints = geometric(r, high ? 800 : 450, 60);
  o->sustained = 0;
  for (unsigned i = 0; i < o->complaints; i++) o->sustained += chance(r, 150);
  o->uof = geometric(r, UNITS[o->unit].force_prone ? 550 : 300, 60);
}

static void gen_dates(officer *o, rng *r) {
  o->hire_day = (int32_t)between(r, HIRE_FIRST_DAY, AS_OF_DAY - 30);
  if (chance(r, 500)) { /* the active roster leans to recent hires */
    int32_t again = (int32_t)between(r, HIRE_FIRST_DAY, AS_OF_DAY - 30);
    if (again > o->hire_day) o->hire_day = again;
  }
  int hire_y, m, d;
  civil_from_days(o->hire_day, &hire_y, &m, &d);
  int by = hire_y - (int)between(r, 21, 45);
  o->birth_year = by < 1950 ? 1950 : by > 2003 ? 2003 : by; /* both keep hire age >= 21 */
  o->sep_day = -1;
  if (chance(r, 200)) o->sep_day = (int32_t)between(r, o->hire_day + 1, AS_OF_DAY);
  int32_t last_event = o->sep_day >= 0 ? o->sep_day : o->hire_day;
  int32_t floor = days_from_civil(2019, 1, 1);
  int32_t from = last_event > floor ? last_event : floor;
  int32_t day = (int32_t)between(r, from, AS_OF_DAY);
  o->updated_sec = (int64_t)day * 86400 + between(r, 0, 86399);
}

static void gen_officer(officer *o, rng *r, const tables *t, uint64_t *next_id) {
  o->id = *next_id;
  *next_id += 1 + (chance(r, 60) ? below(r, 5) : 0); /* sequential with occasional gaps */
  uint64_t seq = o->id - 100000;
  o->badge = 1000 + (unsigned)((seq * 7919) % 98999); /* unique for the first 98999 ids */
  if (chance(r, 15)) o->badge = (unsigned)between(r, 1000, 99999); /* reissued badges */
  uint32_t s = below(r, 1000);
  o->sex = s < 780 ? 'M' : s < 980 ? 'F' : 'X';
  int female = o->sex == 'F' || (o->sex == 'X' && chance(r, 500));
  o->first =
      female ? &t->female[below(r, COUNT(FEMALE_FIRST))] : &t->male[below(r, COUNT(MALE_FIRST))];
  o->last = &t->last[below(r, COUNT(LAST))];
  o->email_suffix = chance(r, 100) ? 2 + below(r, 8) : 0;
  o->rank = (int)pick_weighted(r, RANK_WEIGHT, COUNT(RANK_WEIGHT), 1000);
  o->unit = o->rank >= CHIEF_RANK_FIRST
                ? UNIT_CHIEF
                : (int)pick_weighted(r, t->unit_weight, COUNT(UNITS), t->unit_total);
  o->race = (int)pick_weighted(r, RACE_WEIGHT, COUNT(RACE_WEIGHT), 1000);
  gen_dates(o, r);
  gen_pay(o, r);
  gen_complaints(o, r);
  o->phone = 100 + below(r, 100);
  gen_notes(o, r);
}

/* ---------------------------------------------------------------- defects */

typedef enum {
  D_NONE,
  D_MISSING_CELL, /* last cell dropped: 21 cells */
  D_EXTRA_CELL,   /* trailing comma: 23 cells */
  D_BLANK_ROW,
  D_DUP_ROW,    /* byte copy of the previous non-blank record */
  D_BAD_SALARY, /* "N/A", "$52,000.00", ... */
  D_US_DATE,    /* hire_date as MM/DD/YYYY */
  D_NEG_OVERTIME,
  D_SUSTAINED_GT_TOTAL,
  D_EMAIL_NO_AT,
  D_EMPTY_ID,
  D_DUP_ID, /* officer_id of an earlier record */
  D_COUNT
} defect;

/* Fixed mixture, per 100 defects (the weights must sum to DEFECT_TOTAL). */
#define DEFECT_TOTAL 100
static const uint16_t DEFECT_WEIGHT[D_COUNT] = {
    [D_MISSING_CELL] = 10, [D_EXTRA_CELL] = 8, [D_BLANK_ROW] = 8,    [D_DUP_ROW] = 8,
    [D_BAD_SALARY] = 12,   [D_US_DATE] = 12,   [D_NEG_OVERTIME] = 8, [D_SUSTAINED_GT_TOTAL] = 8,
    [D_EMAIL_NO_AT] = 10,  [D_EMPTY_ID] = 8,   [D_DUP_ID] = 8,
};

static const char *const BAD_SALARY[] = {"N/A", "TBD", "n/a", "-", "unknown"};

typedef struct {
  defect kind;
  int salary_variant; /* -1: "$52,000.00" form, else index into BAD_SALARY */
  uint64_t dup_id;
} damage;

/* Decides, from the defect stream only, whether this record is damaged and how. */
static void pick_damage(damage *dm, rng *dr, uint32_t rate_ppb, uint64_t last_id) {
  memset(dm, 0, sizeof(*dm));
  if (below(dr, PPB) >= rate_ppb) return;
  dm->kind = (defect)pick_weighted(dr, DEFECT_WEIGHT, D_COUNT, DEFECT_TOTAL);
  if (dm->kind == D_BAD_SALARY)
    dm->salary_variant = chance(dr, 500) ? -1 : (int)below(dr, COUNT(BAD_SALARY));
  if (dm->kind == D_DUP_ID) {
    if (last_id == 0) dm->kind = D_EMPTY_ID; /* nothing earlier to duplicate */
    dm->dup_id = last_id;
  }
}

static void apply_damage(officer *o, const damage *dm, rng *dr) {
  if (dm->kind == D_NEG_OVERTIME) o->ot_cents = -(int64_t)between(dr, 100, 5000000);
  if (dm->kind == D_SUSTAINED_GT_TOTAL) o->sustained = o->complaints + 1 + below(dr, 3);
}

/* ---------------------------------------------------------------- formatting */

static void put_email(sbuf *b, const officer *o, int with_at) {
  put_mem(b, o->first->email, o->first->email_len);
  put_ch(b, '.');
  put_mem(b, o->last->email, o->last->email_len);
  if (o->email_suffix) put_u64(b, o->email_suffix);
  put_str(b, with_at ? "@cabq.gov" : ".cabq.gov");
}

static void put_base_salary(sbuf *b, const officer *o, const damage *dm) {
  if (dm->kind != D_BAD_SALARY) {
    put_cents(b, o->base_cents);
  } else if (dm->salary_variant >= 0) {
    put_str(b, BAD_SALARY[dm->salary_variant]);
  } else { /* "$52,000.00" has a comma: quoted */
    char tmp[32];
    sbuf t = {tmp, 0, sizeof(tmp)};
    put_dollars_grouped(&t, o->base_cents);
    put_field(b, t.p, t.len);
  }
}

static void format_officer(sbuf *b, const officer *o, const damage *dm) {
  if (dm->kind != D_EMPTY_ID) put_u64(b, dm->kind == D_DUP_ID ? dm->dup_id : o->id);
  put_ch(b, ',');
  put_u64(b, o->badge);
  put_ch(b, ',');
  put_fieldz(b, o->first->display);
  put_ch(b, ',');
  put_fieldz(b, o->last->display);
  put_ch(b, ',');
  put_str(b, RANK_NAME[o->rank]);
  put_ch(b, ',');
  put_fieldz(b, UNITS[o->unit].name);
  put_ch(b, ',');
  put_fieldz(b, DIVISION[UNITS[o->unit].division]);
  put_ch(b, ',');
  if (dm->kind == D_US_DATE)
    put_us_date(b, o->hire_day);
  else
    put_iso_date(b, o->hire_day);
  put_ch(b, ',');
  if (o->sep_day >= 0) put_iso_date(b, o->sep_day);
  put_ch(b, ',');
  put_u64(b, (uint64_t)o->birth_year);
  put_ch(b, ',');
  put_ch(b, o->sex);
  put_ch(b, ',');
  put_fieldz(b, RACE[o->race]);
  put_ch(b, ',');
  put_base_salary(b, o, dm);
  put_ch(b, ',');
  put_cents(b, o->ot_cents);
  put_ch(b, ',');
  put_cents(b, o->base_cents + o->ot_cents); /* exact: integer cents */
  put_ch(b, ',');
  put_u64(b, o->complaints);
  put_ch(b, ',');
  put_u64(b, o->sustained);
  put_ch(b, ',');
  put_u64(b, o->uof);
  put_ch(b, ',');
  put_email(b, o, dm->kind != D_EMAIL_NO_AT);
  put_str(b, ",(505) 555-0");
  put_u64(b, o->phone);
  put_ch(b, ',');
  put_field(b, o->notes, o->notes_len);
  if (dm->kind != D_MISSING_CELL) {
    put_ch(b, ',');
    put_iso_datetime(b, o->updated_sec);
  }
  if (dm->kind == D_EXTRA_CELL) put_ch(b, ',');
  put_ch(b, '\n');
}

/* ---------------------------------------------------------------- output */

typedef struct {
  int fd;
  char *buf;
  size_t len;
  uint64_t total; /* bytes emitted so far, flushed or not */
  int failed;
} out_stream;

static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void out_flush(out_stream *o) {
  if (!o->failed && o->len && write_all(o->fd, o->buf, o->len) != 0) {
    fprintf(stderr, "fp-gen-officers: write failed: %s\n", strerror(errno));
    o->failed = 1;
  }
  o->len = 0;
}

static void out_put(out_stream *o, const char *p, size_t n) {
  if (n > OUT_CAP - o->len) out_flush(o);
  memcpy(o->buf + o->len, p, n);
  o->len += n;
  o->total += n;
}

/* ---------------------------------------------------------------- arguments */

typedef struct {
  uint64_t rows, bytes, seed;
  int have_rows, have_bytes, have_defects, clean;
  uint32_t rate_ppb;
  const char *out_path;
} options;

static void usage(FILE *f) {
  fputs(
      "usage: fp-gen-officers [--rows N | --bytes SIZE] [--seed S] [--defects RATE]\n"
      "                       [--clean] [-o FILE]\n"
      "\n"
      "Writes a synthetic police Officer_Detail.csv (header + 22 columns, LF line ends,\n"
      "RFC 4180 quoting). Same arguments give byte-identical output on any machine.\n"
      "\n"
      "  --rows N        records after the header (default 1000; blank and duplicate\n"
      "                  defect rows count as records)\n"
      "  --bytes SIZE    instead of --rows: stop after the record that reaches SIZE\n"
      "                  bytes; suffixes K, M, G (binary: 1K = 1024), e.g. 256M, 1G\n"
      "  --seed S        PRNG seed, unsigned 64-bit integer (default 42)\n"
      "  --defects RATE  fraction of records carrying one defect, 0..1 (default 0.002):\n"
      "                  missing-cell, extra-cell, blank-row, duplicate-row, non-numeric\n"
      "                  salary, US-format hire_date, negative overtime_pay,\n"
      "                  complaints_sustained > complaints_total, email without '@',\n"
      "                  empty officer_id, duplicated officer_id\n"
      "  --clean         no defects (same as --defects 0)\n"
      "  -o FILE         write to FILE instead of standard output ('-' = stdout)\n"
      "  -h, --help      this text\n"
      "\n"
      "examples:\n"
      "  fp-gen-officers --rows 2000 --seed 42 --defects 0.005 -o Officer_Detail.csv\n"
      "  fp-gen-officers --bytes 1G -o /var/tmp/fp-bench/officers_1g.csv\n"
      "  fp-gen-officers --rows 10 --clean | column -s, -t\n"
      "\n"
      "exit status: 0 ok, 1 write error, 2 bad arguments\n",
      f);
}

/* Prints "error: WHAT 'VALUE'" (VALUE may be NULL) and returns the usage exit code. */
static int bad_arg(const char *what, const char *value) {
  fprintf(stderr, "fp-gen-officers: error: %s", what);
  if (value) fprintf(stderr, " '%s'", value);
  fputs("\nTry 'fp-gen-officers --help'.\n", stderr);
  return EXIT_USAGE;
}

/* Plain unsigned decimal; no sign, no spaces, no overflow. */
static int parse_u64(const char *s, uint64_t *out, const char **end) {
  uint64_t v = 0;
  const char *p = s;
  if (*p < '0' || *p > '9') return -1;
  for (; *p >= '0' && *p <= '9'; p++) {
    unsigned d = (unsigned)(*p - '0');
    if (v > (UINT64_MAX - d) / 10) return -1;
    v = v * 10 + d;
  }
  *out = v;
  if (end)
    *end = p;
  else if (*p)
    return -1;
  return 0;
}

static int parse_size(const char *s, uint64_t *out) {
  const char *p;
  uint64_t v, mult = 1;
  if (parse_u64(s, &v, &p) != 0) return -1;
  switch (*p) {
    case 'k':
    case 'K':
      mult = 1ull << 10;
      p++;
      break;
    case 'm':
    case 'M':
      mult = 1ull << 20;
      p++;
      break;
    case 'g':
    case 'G':
      mult = 1ull << 30;
      p++;
      break;
    default: break;
  }
  if (mult > 1 && *p == 'i') p++;
  if (*p == 'B' || *p == 'b') p++;
  if (*p || v > UINT64_MAX / mult) return -1;
  *out = v * mult;
  return 0;
}

/* Decimal fraction in [0, 1] ("0.002", ".5", "1", "2e-3") to parts per billion, exactly and
 * without floating point, so the result is the same everywhere. Digits past the 18th
 * significant one are dropped. */
static int parse_rate(const char *s, uint32_t *ppb) {
  uint64_t mant = 0; /* the rate is mant * 10^exp10 */
  int exp10 = 0, digits = 0, in_frac = 0;
  const char *p = s;
  for (;; p++) {
    if (*p == '.' && !in_frac) {
      in_frac = 1;
    } else if (*p >= '0' && *p <= '9') {
      digits++;
      if (mant < 100000000000000000ull) {
        mant = mant * 10 + (uint64_t)(*p - '0');
        exp10 -= in_frac;
      } else {
        exp10 += !in_frac; /* digit dropped */
      }
    } else {
      break;
    }
  }
  if (!digits) return -1;
  if (*p == 'e' || *p == 'E') {
    int neg = p[1] == '-';
    uint64_t e;
    p += 1 + (p[1] == '-' || p[1] == '+');
    if (parse_u64(p, &e, NULL) != 0 || e > 100) return -1;
    exp10 += neg ? -(int)e : (int)e;
  } else if (*p) {
    return -1;
  }
  int shift = exp10 + 9; /* to parts per billion; anything above 1 is refused */
  for (; shift < 0 && mant; shift++) mant /= 10;
  for (; shift > 0 && mant <= PPB; shift--) mant *= 10;
  if (mant > PPB) return -1;
  *ppb = (uint32_t)mant;
  return 0;
}

/* "--name VALUE" or "--name=VALUE"; returns the value or NULL when absent. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, int *missing) {
  size_t n = strlen(name);
  if (strncmp(argv[*i], name, n) != 0) return NULL;
  if (argv[*i][n] == '=') return argv[*i] + n + 1;
  if (argv[*i][n] != '\0') return NULL;
  if (*i + 1 >= argc) {
    *missing = 1;
    return NULL;
  }
  return argv[++*i];
}

static int parse_args(int argc, char **argv, options *o) {
  memset(o, 0, sizeof(*o));
  o->rows = DEFAULT_ROWS;
  o->seed = 42;
  o->rate_ppb = DEFAULT_RATE_PPB;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v;
    int missing = 0;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      exit(0);
    } else if (!strcmp(a, "--clean")) {
      o->clean = 1;
    } else if ((v = opt_value(argc, argv, &i, "--rows", &missing))) {
      if (parse_u64(v, &o->rows, NULL) != 0)
        return bad_arg("--rows wants a non-negative integer, got", v);
      o->have_rows = 1;
    } else if ((v = opt_value(argc, argv, &i, "--bytes", &missing))) {
      if (parse_size(v, &o->bytes) != 0)
        return bad_arg("--bytes wants a size like 1000, 64K, 256M or 1G, got", v);
      o->have_bytes = 1;
    } else if ((v = opt_value(argc, argv, &i, "--seed", &missing))) {
      if (parse_u64(v, &o->seed, NULL) != 0)
        return bad_arg("--seed wants an unsigned 64-bit integer, got", v);
    } else if ((v = opt_value(argc, argv, &i, "--defects", &missing))) {
      if (parse_rate(v, &o->rate_ppb) != 0)
        return bad_arg("--defects wants a rate between 0 and 1 (e.g. 0.002), got", v);
      o->have_defects = 1;
    } else if (!missing && (v = opt_value(argc, argv, &i, "-o", &missing))) {
      o->out_path = v;
    } else if (missing) {
      return bad_arg("missing value for option", a);
    } else {
      return bad_arg("unknown argument", a);
    }
    if (missing) return bad_arg("missing value for option", a);
  }
  if (o->have_rows && o->have_bytes) return bad_arg("--rows and --bytes exclude each other", NULL);
  if (o->clean && o->have_defects) return bad_arg("--clean and --defects exclude each other", NULL);
  if (o->clean) o->rate_ppb = 0;
  return 0;
}

/* ---------------------------------------------------------------- main loop */

static int open_output(const char *path) {
  if (!path || !strcmp(path, "-")) return STDOUT_FILENO;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fprintf(stderr, "fp-gen-officers: cannot open '%s': %s\n", path, strerror(errno));
  return fd;
}

/* Everything generate() needs, heap-allocated once (too big for the stack). */
typedef struct {
  tables t;
  officer off;
  char row_a[ROW_CAP], row_b[ROW_CAP];
} gen_state;

static void generate(const options *opt, gen_state *g, out_stream *out) {
  sbuf cur = {g->row_a, 0, ROW_CAP}, prev = {g->row_b, 0, ROW_CAP};
  officer *off = &g->off;
  rng orng, drng;
  uint64_t next_id = 100000, last_id = 0;

  tables_init(&g->t);
  rng_seed(&orng, opt->seed, 1);
  rng_seed(&drng, opt->seed, 2);
  out_put(out, HEADER, strlen(HEADER));
  for (uint64_t slot = 0; !out->failed; slot++) {
    if (opt->have_bytes ? out->total >= opt->bytes : slot >= opt->rows) break;
    damage dm;
    gen_officer(off, &orng, &g->t, &next_id);
    pick_damage(&dm, &drng, opt->rate_ppb, last_id);
    if (dm.kind == D_BLANK_ROW) {
      out_put(out, "\n", 1);
      continue;
    }
    if (dm.kind == D_DUP_ROW && prev.len) {
      out_put(out, prev.p, prev.len);
      continue;
    }
    if (dm.kind == D_DUP_ROW) dm.kind = D_NONE; /* first record: nothing to repeat */
    apply_damage(off, &dm, &drng);
    cur.len = 0;
    format_officer(&cur, off, &dm);
    out_put(out, cur.p, cur.len);
    if (dm.kind != D_EMPTY_ID && dm.kind != D_DUP_ID) last_id = off->id;
    sbuf t = prev;
    prev = cur;
    cur = t;
  }
  out_flush(out);
}

int main(int argc, char **argv) {
  options opt;
  int rc = parse_args(argc, argv, &opt);
  if (rc) return rc;
  out_stream out = {0};
  out.fd = open_output(opt.out_path);
  if (out.fd < 0) return EXIT_IO;
  out.buf = malloc(OUT_CAP);
  gen_state *g = malloc(sizeof(*g));
  if (!out.buf || !g) {
    fputs("fp-gen-officers: out of memory\n", stderr);
    free(out.buf);
    free(g);
    return EXIT_IO;
  }
  generate(&opt, g, &out);
  free(g);
  free(out.buf);
  if (out.fd != STDOUT_FILENO && close(out.fd) != 0 && !out.failed) {
    fprintf(stderr, "fp-gen-officers: close failed: %s\n", strerror(errno));
    out.failed = 1;
  }
  return out.failed ? EXIT_IO : 0;
}
