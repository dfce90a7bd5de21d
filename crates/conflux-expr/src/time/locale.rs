//! Culture data for date formatting and parsing: month and day names, AM/PM
//! designators, separators and the standard date/time patterns.
//!
//! The values follow what .NET on ICU produces for each culture. Only the
//! cultures listed here are known; a region this table lacks falls back to its
//! language (`de-AT` reads as `de-DE`), and an unknown language is an error.

use super::TimeError;

/// What a format or parse needs to know about a culture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Culture {
    /// The canonical name (`en-US`); empty for the invariant culture.
    pub name: &'static str,
    pub month_names: [&'static str; 12],
    pub month_abbreviations: [&'static str; 12],
    /// Month names after a day number (`1 stycznia`), for cultures whose grammar
    /// needs them; used when the pattern has `d` or `dd` next to `MMMM`.
    pub genitive_months: Option<[&'static str; 12]>,
    /// Sunday first, as .NET's `DayOfWeek`.
    pub day_names: [&'static str; 7],
    pub day_abbreviations: [&'static str; 7],
    pub am: &'static str,
    pub pm: &'static str,
    pub date_separator: &'static str,
    pub time_separator: &'static str,
    /// Standard format `d`.
    pub short_date: &'static str,
    /// Standard format `D`.
    pub long_date: &'static str,
    /// Standard format `t`.
    pub short_time: &'static str,
    /// Standard format `T`.
    pub long_time: &'static str,
    /// Standard format `M`.
    pub month_day: &'static str,
    /// Standard format `Y`.
    pub year_month: &'static str,
    /// Words that may appear between date parts when parsing free text (`de`, `à`).
    pub filler_words: &'static [&'static str],
}

const EN_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const EN_MONTHS_ABBR: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const EN_DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const EN_DAYS_ABBR: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const EN_FILLER: &[&str] = &["of", "the", "at", "on"];

/// The invariant culture: English names, culture-neutral patterns.
pub const INVARIANT: Culture = Culture {
    name: "",
    month_names: EN_MONTHS,
    month_abbreviations: EN_MONTHS_ABBR,
    day_names: EN_DAYS,
    day_abbreviations: EN_DAYS_ABBR,
    am: "AM",
    pm: "PM",
    date_separator: "/",
    time_separator: ":",
    short_date: "MM/dd/yyyy",
    long_date: "dddd, dd MMMM yyyy",
    short_time: "HH:mm",
    long_time: "HH:mm:ss",
    month_day: "MMMM dd",
    year_month: "yyyy MMMM",
    filler_words: EN_FILLER,
    genitive_months: None,
};

/// `en-US`, the default culture of every date function.
pub const EN_US: Culture = Culture {
    name: "en-US",
    short_date: "M/d/yyyy",
    long_date: "dddd, MMMM d, yyyy",
    short_time: "h:mm tt",
    long_time: "h:mm:ss tt",
    month_day: "MMMM d",
    year_month: "MMMM yyyy",
    ..INVARIANT
};

const EN_GB: Culture = Culture {
    name: "en-GB",
    am: "am",
    pm: "pm",
    short_date: "dd/MM/yyyy",
    long_date: "dddd, d MMMM yyyy",
    short_time: "HH:mm",
    long_time: "HH:mm:ss",
    month_day: "d MMMM",
    year_month: "MMMM yyyy",
    ..INVARIANT
};

const EN_AU: Culture = Culture {
    name: "en-AU",
    short_date: "d/MM/yyyy",
    long_date: "dddd, d MMMM yyyy",
    short_time: "h:mm tt",
    long_time: "h:mm:ss tt",
    ..EN_GB
};

const EN_CA: Culture = Culture {
    name: "en-CA",
    am: "a.m.",
    pm: "p.m.",
    date_separator: "-",
    short_date: "yyyy-MM-dd",
    long_date: "dddd, MMMM d, yyyy",
    short_time: "h:mm tt",
    long_time: "h:mm:ss tt",
    month_day: "MMMM d",
    ..EN_GB
};

const DE_DE: Culture = Culture {
    name: "de-DE",
    month_names: [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ],
    month_abbreviations: [
        "Jan", "Feb", "Mär", "Apr", "Mai", "Jun", "Jul", "Aug", "Sep", "Okt", "Nov", "Dez",
    ],
    day_names: [
        "Sonntag",
        "Montag",
        "Dienstag",
        "Mittwoch",
        "Donnerstag",
        "Freitag",
        "Samstag",
    ],
    day_abbreviations: ["So", "Mo", "Di", "Mi", "Do", "Fr", "Sa"],
    am: "AM",
    pm: "PM",
    date_separator: ".",
    time_separator: ":",
    short_date: "dd.MM.yyyy",
    long_date: "dddd, d. MMMM yyyy",
    short_time: "HH:mm",
    long_time: "HH:mm:ss",
    month_day: "d. MMMM",
    year_month: "MMMM yyyy",
    filler_words: &["um", "den"],
    genitive_months: None,
};

const FR_FR: Culture = Culture {
    name: "fr-FR",
    month_names: [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
    month_abbreviations: [
        "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
        "déc.",
    ],
    day_names: [
        "dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi",
    ],
    day_abbreviations: ["dim.", "lun.", "mar.", "mer.", "jeu.", "ven.", "sam."],
    am: "AM",
    pm: "PM",
    date_separator: "/",
    time_separator: ":",
    short_date: "dd/MM/yyyy",
    long_date: "dddd d MMMM yyyy",
    short_time: "HH:mm",
    long_time: "HH:mm:ss",
    month_day: "d MMMM",
    year_month: "MMMM yyyy",
    filler_words: &["le", "à", "a"],
    genitive_months: None,
};

const ES_ES: Culture = Culture {
    name: "es-ES",
    month_names: [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ],
    month_abbreviations: [
        "ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic",
    ],
    day_names: [
        "domingo",
        "lunes",
        "martes",
        "miércoles",
        "jueves",
        "viernes",
        "sábado",
    ],
    day_abbreviations: ["dom", "lun", "mar", "mié", "jue", "vie", "sáb"],
    am: "a. m.",
    pm: "p. m.",
    date_separator: "/",
    time_separator: ":",
    short_date: "dd/MM/yyyy",
    long_date: "dddd, d 'de' MMMM 'de' yyyy",
    short_time: "H:mm",
    long_time: "H:mm:ss",
    month_day: "d 'de' MMMM",
    year_month: "MMMM 'de' yyyy",
    filler_words: &["de", "del", "a", "las", "el"],
    genitive_months: None,
};

const IT_IT: Culture = Culture {
    name: "it-IT",
    month_names: [
        "gennaio",
        "febbraio",
        "marzo",
        "aprile",
        "maggio",
        "giugno",
        "luglio",
        "agosto",
        "settembre",
        "ottobre",
        "novembre",
        "dicembre",
    ],
    month_abbreviations: [
        "gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic",
    ],
    day_names: [
        "domenica",
        "lunedì",
        "martedì",
        "mercoledì",
        "giovedì",
        "venerdì",
        "sabato",
    ],
    day_abbreviations: ["dom", "lun", "mar", "mer", "gio", "ven", "sab"],
    am: "AM",
    pm: "PM",
    date_separator: "/",
    time_separator: ":",
    short_date: "dd/MM/yyyy",
    long_date: "dddd d MMMM yyyy",
    short_time: "HH:mm",
    long_time: "HH:mm:ss",
    month_day: "d MMMM",
    year_month: "MMMM yyyy",
    filler_words: &["alle", "il"],
    genitive_months: None,
};

const NL_NL: Culture = Culture {
    name: "nl-NL",
    month_names: [
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ],
    month_abbreviations: [
        "jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec",
    ],
    day_names: [
        "zondag",
        "maandag",
        "dinsdag",
        "woensdag",
        "donderdag",
        "vrijdag",
        "zaterdag",
    ],
    day_abbreviations: ["zo", "ma", "di", "wo", "do", "vr", "za"],
    am: "a.m.",
    pm: "p.m.",
    date_separator: "-",
    time_separator: ":",
    short_date: "d-M-yyyy",
    long_date: "dddd d MMMM yyyy",
    short_time: "HH:mm",
    long_time: "HH:mm:ss",
    month_day: "d MMMM",
    year_month: "MMMM yyyy",
    filler_words: &["om"],
    genitive_months: None,
};

const PT_BR: Culture = Culture {
    name: "pt-BR",
    month_names: [
        "janeiro",
        "fevereiro",
        "março",
        "abril",
        "maio",
        "junho",
        "julho",
        "agosto",
        "setembro",
        "outubro",
        "novembro",
        "dezembro",
    ],
    month_abbreviations: [
        "jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov", "dez",
    ],
    day_names: [
        "domingo",
        "segunda-feira",
        "terça-feira",
        "quarta-feira",
        "quinta-feira",
        "sexta-feira",
        "sábado",
    ],
    day_abbreviations: ["dom", "seg", "ter", "qua", "qui", "sex", "sáb"],
    am: "AM",
    pm: "PM",
    date_separator: "/",
    time_separator: ":",
    short_date: "dd/MM/yyyy",
    long_date: "dddd, d 'de' MMMM 'de' yyyy",
    short_time: "HH:mm",
    long_time: "HH:mm:ss",
    month_day: "d 'de' MMMM",
    year_month: "MMMM 'de' yyyy",
    filler_words: &["de", "às", "a"],
    genitive_months: None,
};

const PT_PT: Culture = Culture {
    name: "pt-PT",
    long_date: "dddd, d 'de' MMMM 'de' yyyy",
    ..PT_BR
};

const SV_SE: Culture = Culture {
    name: "sv-SE",
    month_names: [
        "januari",
        "februari",
        "mars",
        "april",
        "maj",
        "juni",
        "juli",
        "augusti",
        "september",
        "oktober",
        "november",
        "december",
    ],
    month_abbreviations: [
        "jan.", "feb.", "mars", "apr.", "maj", "juni", "juli", "aug.", "sep.", "okt.", "nov.",
        "dec.",
    ],
    day_names: [
        "söndag", "måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag",
    ],
    day_abbreviations: ["sön", "mån", "tis", "ons", "tors", "fre", "lör"],
    am: "fm",
    pm: "em",
    date_separator: "-",
    time_separator: ":",
    short_date: "yyyy-MM-dd",
    long_date: "dddd d MMMM yyyy",
    short_time: "HH:mm",
    long_time: "HH:mm:ss",
    month_day: "d MMMM",
    year_month: "MMMM yyyy",
    filler_words: &["den", "kl"],
    genitive_months: None,
};

const DA_DK: Culture = Culture {
    name: "da-DK",
    month_names: [
        "januar",
        "februar",
        "marts",
        "april",
        "maj",
        "juni",
        "juli",
        "august",
        "september",
        "oktober",
        "november",
        "december",
    ],
    month_abbreviations: [
        "jan.", "feb.", "mar.", "apr.", "maj", "jun.", "jul.", "aug.", "sep.", "okt.", "nov.",
        "dec.",
    ],
    day_names: [
        "søndag", "mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag",
    ],
    day_abbreviations: ["søn.", "man.", "tirs.", "ons.", "tors.", "fre.", "lør."],
    am: "AM",
    pm: "PM",
    date_separator: ".",
    time_separator: ".",
    short_date: "dd.MM.yyyy",
    long_date: "dddd 'den' d. MMMM yyyy",
    short_time: "HH.mm",
    long_time: "HH.mm.ss",
    month_day: "d. MMMM",
    year_month: "MMMM yyyy",
    filler_words: &["den", "kl"],
    genitive_months: None,
};

const NB_NO: Culture = Culture {
    name: "nb-NO",
    month_names: [
        "januar",
        "februar",
        "mars",
        "april",
        "mai",
        "juni",
        "juli",
        "august",
        "september",
        "oktober",
        "november",
        "desember",
    ],
    month_abbreviations: [
        "jan.", "feb.", "mar.", "apr.", "mai", "jun.", "jul.", "aug.", "sep.", "okt.", "nov.",
        "des.",
    ],
    day_names: [
        "søndag", "mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag",
    ],
    day_abbreviations: ["søn.", "man.", "tir.", "ons.", "tor.", "fre.", "lør."],
    am: "a.m.",
    pm: "p.m.",
    date_separator: ".",
    time_separator: ":",
    short_date: "dd.MM.yyyy",
    long_date: "dddd d. MMMM yyyy",
    short_time: "HH:mm",
    long_time: "HH:mm:ss",
    month_day: "d. MMMM",
    year_month: "MMMM yyyy",
    filler_words: &["den", "kl"],
    genitive_months: None,
};

const FI_FI: Culture = Culture {
    name: "fi-FI",
    month_names: [
        "tammikuu",
        "helmikuu",
        "maaliskuu",
        "huhtikuu",
        "toukokuu",
        "kesäkuu",
        "heinäkuu",
        "elokuu",
        "syyskuu",
        "lokakuu",
        "marraskuu",
        "joulukuu",
    ],
    month_abbreviations: [
        "tammi", "helmi", "maalis", "huhti", "touko", "kesä", "heinä", "elo", "syys", "loka",
        "marras", "joulu",
    ],
    day_names: [
        "sunnuntai",
        "maanantai",
        "tiistai",
        "keskiviikko",
        "torstai",
        "perjantai",
        "lauantai",
    ],
    day_abbreviations: ["su", "ma", "ti", "ke", "to", "pe", "la"],
    am: "ap.",
    pm: "ip.",
    date_separator: ".",
    time_separator: ".",
    short_date: "d.M.yyyy",
    long_date: "dddd d. MMMM yyyy",
    short_time: "H.mm",
    long_time: "H.mm.ss",
    month_day: "d. MMMM",
    year_month: "MMMM yyyy",
    filler_words: &["klo"],
    genitive_months: Some([
        "tammikuuta",
        "helmikuuta",
        "maaliskuuta",
        "huhtikuuta",
        "toukokuuta",
        "kesäkuuta",
        "heinäkuuta",
        "elokuuta",
        "syyskuuta",
        "lokakuuta",
        "marraskuuta",
        "joulukuuta",
    ]),
};

const PL_PL: Culture = Culture {
    name: "pl-PL",
    month_names: [
        "styczeń",
        "luty",
        "marzec",
        "kwiecień",
        "maj",
        "czerwiec",
        "lipiec",
        "sierpień",
        "wrzesień",
        "październik",
        "listopad",
        "grudzień",
    ],
    month_abbreviations: [
        "sty", "lut", "mar", "kwi", "maj", "cze", "lip", "sie", "wrz", "paź", "lis", "gru",
    ],
    day_names: [
        "niedziela",
        "poniedziałek",
        "wtorek",
        "środa",
        "czwartek",
        "piątek",
        "sobota",
    ],
    day_abbreviations: ["niedz.", "pon.", "wt.", "śr.", "czw.", "pt.", "sob."],
    am: "AM",
    pm: "PM",
    date_separator: ".",
    time_separator: ":",
    short_date: "dd.MM.yyyy",
    long_date: "dddd, d MMMM yyyy",
    short_time: "HH:mm",
    long_time: "HH:mm:ss",
    month_day: "d MMMM",
    year_month: "MMMM yyyy",
    filler_words: &["o"],
    genitive_months: Some([
        "stycznia",
        "lutego",
        "marca",
        "kwietnia",
        "maja",
        "czerwca",
        "lipca",
        "sierpnia",
        "września",
        "października",
        "listopada",
        "grudnia",
    ]),
};

const JA_JP: Culture = Culture {
    name: "ja-JP",
    month_names: [
        "1月", "2月", "3月", "4月", "5月", "6月", "7月", "8月", "9月", "10月", "11月", "12月",
    ],
    month_abbreviations: [
        "1月", "2月", "3月", "4月", "5月", "6月", "7月", "8月", "9月", "10月", "11月", "12月",
    ],
    day_names: [
        "日曜日",
        "月曜日",
        "火曜日",
        "水曜日",
        "木曜日",
        "金曜日",
        "土曜日",
    ],
    day_abbreviations: ["日", "月", "火", "水", "木", "金", "土"],
    am: "午前",
    pm: "午後",
    date_separator: "/",
    time_separator: ":",
    short_date: "yyyy/MM/dd",
    long_date: "yyyy'年'M'月'd'日'dddd",
    short_time: "H:mm",
    long_time: "H:mm:ss",
    month_day: "M'月'd'日'",
    year_month: "yyyy'年'M'月'",
    filler_words: &[],
    genitive_months: None,
};

const ZH_CN: Culture = Culture {
    name: "zh-CN",
    month_names: [
        "一月",
        "二月",
        "三月",
        "四月",
        "五月",
        "六月",
        "七月",
        "八月",
        "九月",
        "十月",
        "十一月",
        "十二月",
    ],
    month_abbreviations: [
        "1月", "2月", "3月", "4月", "5月", "6月", "7月", "8月", "9月", "10月", "11月", "12月",
    ],
    day_names: [
        "星期日",
        "星期一",
        "星期二",
        "星期三",
        "星期四",
        "星期五",
        "星期六",
    ],
    day_abbreviations: ["周日", "周一", "周二", "周三", "周四", "周五", "周六"],
    am: "上午",
    pm: "下午",
    date_separator: "/",
    time_separator: ":",
    short_date: "yyyy/M/d",
    long_date: "yyyy'年'M'月'd'日'dddd",
    short_time: "H:mm",
    long_time: "H:mm:ss",
    month_day: "M'月'd'日'",
    year_month: "yyyy'年'M'月'",
    filler_words: &[],
    genitive_months: None,
};

const RU_RU: Culture = Culture {
    name: "ru-RU",
    month_names: [
        "январь",
        "февраль",
        "март",
        "апрель",
        "май",
        "июнь",
        "июль",
        "август",
        "сентябрь",
        "октябрь",
        "ноябрь",
        "декабрь",
    ],
    month_abbreviations: [
        "янв.",
        "февр.",
        "март",
        "апр.",
        "май",
        "июнь",
        "июль",
        "авг.",
        "сент.",
        "окт.",
        "нояб.",
        "дек.",
    ],
    genitive_months: Some([
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ]),
    day_names: [
        "воскресенье",
        "понедельник",
        "вторник",
        "среда",
        "четверг",
        "пятница",
        "суббота",
    ],
    day_abbreviations: ["вс", "пн", "вт", "ср", "чт", "пт", "сб"],
    am: "AM",
    pm: "PM",
    date_separator: ".",
    time_separator: ":",
    short_date: "dd.MM.yyyy",
    long_date: "d MMMM yyyy 'г.'",
    short_time: "HH:mm",
    long_time: "HH:mm:ss",
    month_day: "d MMMM",
    year_month: "MMMM yyyy 'г.'",
    filler_words: &["г", "в"],
};

const TR_TR: Culture = Culture {
    name: "tr-TR",
    month_names: [
        "Ocak", "Şubat", "Mart", "Nisan", "Mayıs", "Haziran", "Temmuz", "Ağustos", "Eylül", "Ekim",
        "Kasım", "Aralık",
    ],
    month_abbreviations: [
        "Oca", "Şub", "Mar", "Nis", "May", "Haz", "Tem", "Ağu", "Eyl", "Eki", "Kas", "Ara",
    ],
    genitive_months: None,
    day_names: [
        "Pazar",
        "Pazartesi",
        "Salı",
        "Çarşamba",
        "Perşembe",
        "Cuma",
        "Cumartesi",
    ],
    day_abbreviations: ["Paz", "Pzt", "Sal", "Çar", "Per", "Cum", "Cmt"],
    am: "ÖÖ",
    pm: "ÖS",
    date_separator: ".",
    time_separator: ":",
    short_date: "d.MM.yyyy",
    long_date: "d MMMM yyyy dddd",
    short_time: "HH:mm",
    long_time: "HH:mm:ss",
    month_day: "d MMMM",
    year_month: "MMMM yyyy",
    filler_words: &[],
};

const KO_KR: Culture = Culture {
    name: "ko-KR",
    month_names: [
        "1월", "2월", "3월", "4월", "5월", "6월", "7월", "8월", "9월", "10월", "11월", "12월",
    ],
    month_abbreviations: [
        "1월", "2월", "3월", "4월", "5월", "6월", "7월", "8월", "9월", "10월", "11월", "12월",
    ],
    genitive_months: None,
    day_names: [
        "일요일",
        "월요일",
        "화요일",
        "수요일",
        "목요일",
        "금요일",
        "토요일",
    ],
    day_abbreviations: ["일", "월", "화", "수", "목", "금", "토"],
    am: "오전",
    pm: "오후",
    date_separator: ". ",
    time_separator: ":",
    short_date: "yyyy. M. d.",
    long_date: "yyyy'년' M'월' d'일' dddd",
    short_time: "tt h:mm",
    long_time: "tt h:mm:ss",
    month_day: "M'월' d'일'",
    year_month: "yyyy'년' M'월'",
    filler_words: &[],
};

/// Every specific culture, and the language each stands in for.
const CULTURES: &[(&str, Culture)] = &[
    ("en", EN_US),
    ("en", EN_GB),
    ("en", EN_AU),
    ("en", EN_CA),
    ("de", DE_DE),
    ("fr", FR_FR),
    ("es", ES_ES),
    ("it", IT_IT),
    ("nl", NL_NL),
    ("pt", PT_BR),
    ("pt", PT_PT),
    ("sv", SV_SE),
    ("da", DA_DK),
    ("nb", NB_NO),
    ("fi", FI_FI),
    ("pl", PL_PL),
    ("ja", JA_JP),
    ("zh", ZH_CN),
    ("ru", RU_RU),
    ("tr", TR_TR),
    ("ko", KO_KR),
];

/// The culture for an RFC 4646 code (case-insensitive, `_` accepted for `-`).
/// An empty code or `iv`/`invariant` is the invariant culture; a region the
/// table lacks falls back to the first culture of its language (`de-AT` → `de-DE`).
pub fn culture(code: &str) -> Result<&'static Culture, TimeError> {
    let normalized = code.trim().replace('_', "-");
    if normalized.is_empty()
        || normalized.eq_ignore_ascii_case("iv")
        || normalized.eq_ignore_ascii_case("invariant")
    {
        return Ok(&INVARIANT);
    }
    if let Some((_, c)) = CULTURES
        .iter()
        .find(|(_, c)| c.name.eq_ignore_ascii_case(&normalized))
    {
        return Ok(c);
    }
    let language = normalized.split('-').next().unwrap_or_default();
    let language = if language.eq_ignore_ascii_case("no") || language.eq_ignore_ascii_case("nn") {
        "nb"
    } else {
        language
    };
    CULTURES
        .iter()
        .find(|(lang, _)| lang.eq_ignore_ascii_case(language))
        .map(|(_, c)| c)
        .ok_or_else(|| TimeError::Locale(code.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_resolve_case_insensitively() {
        assert_eq!(culture("en-us").expect("en-us").name, "en-US");
        assert_eq!(culture("fr-fr").expect("fr-fr").name, "fr-FR");
        assert_eq!(culture("ES_es").expect("ES_es").name, "es-ES");
        assert_eq!(culture("").expect("empty").name, "");
    }

    #[test]
    fn regions_fall_back_to_their_language() {
        assert_eq!(culture("de-AT").expect("de-AT").name, "de-DE");
        assert_eq!(culture("fr").expect("fr").name, "fr-FR");
        assert_eq!(culture("no").expect("no").name, "nb-NO");
    }

    #[test]
    fn unknown_languages_are_errors() {
        let err = culture("xx-YY").expect_err("unknown");
        assert!(
            err.to_string().contains("'xx-YY' is not supported"),
            "{err}"
        );
        assert!(culture("klingon").is_err());
    }
}
